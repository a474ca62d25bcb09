"""The subscribe pages in Chromium: usable without JavaScript under their own CSP, and no
serious or critical axe-core violations in either language."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from firstword.core.db import transaction
from firstword.statuspage.subscription_models import Subscriber
from tests.factories import ensure_catalogue
from tests.statuspage.test_a11y import assert_accessible, axe_page, sqlite_only  # noqa: F401

pytestmark = [pytest.mark.browser, sqlite_only]


@pytest.fixture
def site(committing_context: Any, live_server: str) -> str:
    with transaction(committing_context.sessionmaker) as session:
        ensure_catalogue(session, committing_context.clock)
    return live_server


@pytest.mark.parametrize("lang", ["en", "de"])
def test_subscribe_pages_are_accessible(site, axe_page, lang):  # noqa: F811
    for channel in ("email", "sms", "webhook"):
        axe_page.goto(f"{site}/subscribe?lang={lang}&channel={channel}")
        assert axe_page.locator("html").get_attribute("lang") == lang
        assert_accessible(axe_page)
    # Passes the browser's own URL check, fails the server's: the error page.
    axe_page.locator("#sub-address").fill("ftp://example.com/hook")
    axe_page.locator("form.subscribe button[type=submit]").click()
    assert axe_page.locator("#sub-error").is_visible()
    assert axe_page.locator("#sub-address").get_attribute("aria-invalid") == "true"
    assert_accessible(axe_page)


def test_subscribing_in_a_browser_without_javascript(site, browser, committing_context):
    context = browser.new_context(java_script_enabled=False, locale="de-DE")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{site}/subscribe")
        assert page.locator("html").get_attribute("lang") == "de"
        page.get_by_label("E-Mail-Adresse").fill("ana@example.org")
        page.get_by_label("Nur die unten gewählten Dienste").check()
        page.get_by_label("Filialen in Deutschland").check()
        page.get_by_role("button", name="Abonnieren").click()
        heading = page.get_by_role("heading", level=1, name="Fast geschafft: bitte bestätigen")
        assert heading.is_visible()
        assert page.get_by_text("ana@example.org", exact=False).is_visible()
        assert errors == []
    finally:
        context.close()
    with transaction(committing_context.sessionmaker) as session:
        row = session.scalars(select(Subscriber)).one()
        assert (row.address, row.language, row.status) == ("ana@example.org", "de", "pending")
        assert [c.component_key for c in row.components] == ["stores-de"]
