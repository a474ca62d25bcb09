"""Accessibility (axe-core in Chromium) and the page in a real browser in two languages.

axe-core is vendored under vendor/ (see vendor/VENDORED.md); it is injected into the page,
which needs the browser context to bypass the page's own CSP (the page allows no script).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from firstword.core.auth.roles import system_actor
from firstword.core.db import transaction
from firstword.incidents import service as incidents
from firstword.incidents.schemas import UpdatePost
from firstword.statuspage import export
from firstword.statuspage import service as statuspage
from firstword.statuspage.maintenance import MaintenanceSchedule, MaintenanceStep
from tests.factories import ensure_catalogue
from tests.statuspage.page_support import HOSTILE, payment_incident
from tests.statuspage.subscription_support import (
    confirm_token,
    queued,
    subscribe,
    unsubscribe_token,
)
from tests.statuspage.test_export import static_server

VENDOR = Path(__file__).resolve().parent / "vendor"
AXE = VENDOR / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = {"serious", "critical"}

# The page looks the same on both backends; one is enough for the browser checks.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_vendored_axe_is_the_recorded_release():
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256
    assert AXE_SHA256 in (VENDOR / "VENDORED.md").read_text(encoding="utf-8")
    assert "Mozilla Public License" in (VENDOR / "axe-core.LICENSE").read_text(encoding="utf-8")


def busy(context: Any) -> str:
    """An open incident (with hostile text), a resolved one, maintenance in progress and
    upcoming; then the snapshot is rendered. Returns the open incident's ref."""
    actor = system_actor("tests")
    clock = context.clock
    with context.sessionmaker() as session, session.begin():
        old = payment_incident(session, clock, title="Gift card balances not showing")
        incidents.post_update(
            session,
            clock=clock,
            actor=actor,
            ref=old.ref,
            data=UpdatePost(body="Balances show again.", state="resolved"),
        )
        clock.advance(timedelta(days=1))
        current = payment_incident(session, clock, title=f"Card payments failing {HOSTILE}")
        now = clock.now()
        active = statuspage.schedule_maintenance(
            session,
            clock=clock,
            actor=actor,
            data=MaintenanceSchedule(
                title="Live chat upgrade",
                body="Chat may disconnect briefly.",
                components=["live-chat"],
                scheduled_for=now,
                scheduled_until=now + timedelta(hours=2),
            ),
        )
        statuspage.start_maintenance(
            session, clock=clock, actor=actor, ref=active.ref, data=MaintenanceStep()
        )
        statuspage.schedule_maintenance(
            session,
            clock=clock,
            actor=actor,
            data=MaintenanceSchedule(
                title="Loyalty points upgrade",
                body="",
                components=["loyalty-programme"],
                scheduled_for=now + timedelta(days=2),
                scheduled_until=now + timedelta(days=2, hours=1),
            ),
        )
    assert statuspage.rebuild_now(context).ok
    return current.ref


@pytest.fixture
def settings(settings: Any) -> Any:
    """Webhooks to loopback allowed, so the browser can subscribe one with no DNS lookup."""
    return settings.model_copy(update={"webhook_allow_private_targets": True})


@pytest.fixture
def axe_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def axe_problems(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
            }));
        }""",
        AXE_TAGS,
    )
    return violations


def assert_accessible(page: Any) -> None:
    problems = axe_problems(page)
    blocking = [p for p in problems if p["impact"] in BLOCKING]
    assert blocking == [], blocking


@pytest.mark.browser
@sqlite_only
@pytest.mark.parametrize("lang", ["en", "de"])
def test_page_with_incidents_is_accessible(committing_context, live_server, axe_page, lang):
    ref = busy(committing_context)
    axe_page.goto(f"{live_server}/?lang={lang}")
    assert axe_page.locator("html").get_attribute("lang") == lang
    assert axe_page.locator(f"#{ref}").is_visible()
    assert_accessible(axe_page)


@pytest.mark.browser
@sqlite_only
@pytest.mark.parametrize("lang", ["en", "de"])
def test_calm_page_is_accessible(committing_context, live_server, axe_page, lang):
    assert statuspage.rebuild_now(committing_context).ok
    axe_page.goto(f"{live_server}/?lang={lang}")
    assert axe_page.locator(".tone-none").is_visible()
    assert_accessible(axe_page)


@pytest.mark.browser
@sqlite_only
@pytest.mark.parametrize("lang", ["en", "de"])
def test_exported_store_list_and_subscribe_pointer_are_accessible(
    committing_context, axe_page, tmp_path, lang
):
    """The static export's own pages (every store; where to subscribe), served with no app."""
    busy(committing_context)
    with transaction(committing_context.sessionmaker) as session:
        export.export_site(session, tmp_path / "site")
    with static_server(tmp_path / "site") as base:
        axe_page.goto(f"{base}/stores.{lang}.html")
        assert axe_page.locator(".results > li").count() > 20
        assert_accessible(axe_page)
        axe_page.goto(f"{base}/subscribe.{lang}.html")
        assert axe_page.locator("html").get_attribute("lang") == lang
        assert_accessible(axe_page)


@pytest.mark.browser
@sqlite_only
def test_store_results_page_is_accessible(committing_context, live_server, axe_page):
    busy(committing_context)
    axe_page.goto(f"{live_server}/stores?q=London&lang=de")
    assert axe_page.locator(".results > li").count() == 2
    assert_accessible(axe_page)
    axe_page.goto(f"{live_server}/stores?q={'x' * 120}")
    assert axe_page.locator("#store-q-error").is_visible()
    assert_accessible(axe_page)


@pytest.mark.browser
@sqlite_only
def test_page_in_the_browser_in_two_languages_without_javascript(
    committing_context, live_server, browser
):
    busy(committing_context)
    # As a reader with JavaScript off sees it, under the page's own CSP (no bypass).
    context = browser.new_context(
        java_script_enabled=False, locale="de-DE", viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{live_server}/")  # Accept-Language from the de-DE locale
        assert page.locator("html").get_attribute("lang") == "de"
        assert page.get_by_role("heading", level=2, name="Aktuelle Störungen").is_visible()
        # the stylesheet loaded (same origin, allowed by the page's CSP)
        tone = page.locator(".overall").evaluate("el => getComputedStyle(el).borderTopStyle")
        assert tone == "solid"
        # narrow screens show the last 30 of the 90 days
        first_bar = page.locator("ol.bar").first
        assert first_bar.locator("li").count() == 90
        assert first_bar.locator("li:visible").count() == 30

        page.get_by_role("link", name="English").click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", level=2, name="Current incidents").is_visible()

        page.get_by_label("Store name, town or postcode").fill("Glasgow")
        page.get_by_role("button", name="Check").click()
        assert "/stores?" in page.url
        assert page.get_by_role("heading", level=3, name="Glasgow Buchanan Street").is_visible()
        assert page.get_by_text("Major outage").first.is_visible()
        assert errors == []
    finally:
        context.close()


def fits_the_screen(page: Any) -> bool:
    """No sideways scrolling: nothing is wider than the viewport."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.browser
@sqlite_only
@pytest.mark.parametrize("lang", ["en", "de"])
def test_subscription_pages_are_accessible_on_a_phone(
    committing_context, live_server, axe_page, lang
):
    """From the page's "Get updates" to every page after the form, 390 px wide. (The form
    for each channel is also checked at 1280 px in test_subscriptions_browser.py.)"""
    with transaction(committing_context.sessionmaker) as session:
        ensure_catalogue(session, committing_context.clock)
    assert statuspage.rebuild_now(committing_context).ok
    page = axe_page
    page.set_viewport_size({"width": 390, "height": 844})
    get_updates = {"en": "Get updates", "de": "Benachrichtigungen erhalten"}[lang]

    page.goto(f"{live_server}/?lang={lang}")
    page.locator(".get-updates").get_by_role("link", name=get_updates).click()
    assert page.url == f"{live_server}/subscribe?lang={lang}"
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("form.subscribe").is_visible()
    assert fits_the_screen(page)
    assert_accessible(page)

    # SMS: the code form, then a wrong code
    page.goto(f"{live_server}/subscribe?lang={lang}&channel=sms")
    page.locator("#sub-address").fill("+44 7911 123456")
    page.locator("form.subscribe button[type=submit]").click()
    assert page.locator("#sub-code").is_visible()
    assert_accessible(page)
    page.locator("#sub-code").fill("1")
    page.locator("form.lookup button[type=submit]").click()
    assert page.locator("#code-error").is_visible()
    assert fits_the_screen(page)
    assert_accessible(page)

    # Webhook: the signing secret, shown once
    page.goto(f"{live_server}/subscribe?lang={lang}&channel=webhook")
    page.locator("#sub-address").fill("http://127.0.0.1:9/status-hook")
    page.locator("form.subscribe button[type=submit]").click()
    assert len(page.locator("code.secret").inner_text()) >= 32
    assert fits_the_screen(page)
    assert_accessible(page)

    # E-mail: the confirmation link, then the unsubscribe link
    address = f"reader-{lang}@example.org"
    with transaction(committing_context.sessionmaker) as session:
        subscribe(
            session,
            committing_context.clock,
            committing_context.settings,
            address,
            language=lang,
        )
        message = queued(session, recipient=address)[-1]
        confirm, unsubscribe = confirm_token(message), unsubscribe_token(message)
    done = {
        "en": ("You are subscribed", "You are unsubscribed"),
        "de": ("Abonnement bestätigt", "Sie sind abgemeldet"),
    }[lang]
    pages = (f"/subscribe/confirm/{confirm}", f"/unsubscribe/{unsubscribe}")
    for path, heading in zip(pages, done, strict=True):
        page.goto(f"{live_server}{path}")
        assert page.locator("html").get_attribute("lang") == lang
        assert_accessible(page)
        page.locator("main form button[type=submit]").click()
        assert page.get_by_role("heading", level=1, name=heading).is_visible()
        assert_accessible(page)

    page.goto(f"{live_server}/subscribe/confirm/no-such-token?lang={lang}")
    assert page.locator("main a[href^='/subscribe']").is_visible()
    assert_accessible(page)
