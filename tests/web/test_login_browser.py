"""Signing in with a real browser (headless Chromium) against the app under uvicorn."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser


def _staff(committing_context, roles, name):
    with committing_context.sessionmaker() as session, session.begin():
        return make_user(
            session,
            committing_context.clock,
            roles=roles,
            name=name,
            email=f"{name.split()[0].lower()}@example.com",
        )


def test_sign_in_issue_a_token_and_sign_out(page, live_server, committing_context, tmp_path: Path):
    user = _staff(committing_context, ["incident_commander", "communications"], "Morgan Commander")
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if "Refused" in msg.text or "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/console/" not in r.url
            else None
        ),
    )

    page.goto(f"{live_server}/console/account")  # not signed in: sent to the sign-in page
    assert re.search(r"/console/login\?next=/console/account$", page.url)
    page.screenshot(path=str(tmp_path / "login.png"), full_page=True)
    page.get_by_label("E-mail address").fill("morgan@example.com")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().strip().endswith("password is wrong.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/console/account")

    assert page.get_by_role("heading", level=1).inner_text() == user.name
    assert "Incident commander" in page.inner_text("header")
    page.get_by_label("Name").fill("status-bot")
    page.get_by_label("Communications").check()
    page.get_by_role("button", name="Issue token").click()
    assert "status-bot" in page.get_by_role("table").inner_text()
    token = page.get_by_role("textbox", name="New token").input_value()
    assert token.startswith("fw_")

    shot = tmp_path / "account.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5_000
    assert user.name in page.content()
    # The CSP held (nothing inline was blocked) and every asset loaded.
    assert problems == []

    page.get_by_role("button", name="Revoke token status-bot").click()
    assert "Token “status-bot” revoked." in page.get_by_role("status").inner_text()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server}/console/login")
    page.goto(f"{live_server}/console/account")
    assert "/console/login" in page.url


def test_narrow_screen_layout(page, live_server, committing_context, tmp_path: Path):
    _staff(committing_context, ["viewer"], "Riley Viewer")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/console/login")
    page.get_by_label("E-mail address").fill("riley@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/console/account")
    # Nothing spills sideways on a phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.screenshot(path=str(tmp_path / "account-narrow.png"), full_page=True)
    # Keyboard users get the skip link first.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
