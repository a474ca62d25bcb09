"""The incident console in headless Chromium against a live server: sign in, open an
incident, post a public update, change a component, complete tasks (with htmx, and without
JavaScript at all), and a full-page screenshot of the incident page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from firstword.context import Context
from tests.factories import PASSWORD, ensure_catalogue, make_user

pytestmark = pytest.mark.browser

EMAIL = "commander@example.com"


@pytest.fixture
def commander(committing_context: Context) -> str:
    ctx = committing_context
    with ctx.sessionmaker() as s, s.begin():
        ensure_catalogue(s, ctx.clock)
        make_user(s, ctx.clock, roles=["incident_commander"], email=EMAIL, name="Ida Commander")
    return EMAIL


def _collect_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _sign_in(page: Any, live_server: str, email: str) -> None:
    page.goto(f"{live_server}/console/incidents")
    assert "/console/login" in page.url, "signed-out visitors are sent to sign in"
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/incidents$"))


def _open_incident(page: Any, title: str) -> str:
    page.get_by_role("link", name="Open an incident").click()
    page.wait_for_url(re.compile(r"/console/incidents/new$"))
    page.fill("#title", title)
    page.select_option("#kind", "outage")
    page.select_option("#severity", "SEV1")
    page.fill("#summary", "Payments at checkout time out for about half of customers.")
    page.fill("#customer_advice", "Your basket is saved; please try again later.")
    page.select_option("#component-online-checkout", "major_outage")
    page.select_option("#component-website", "degraded_performance")
    page.get_by_role("checkbox", name="E-mail", exact=True).check()
    page.get_by_role("button", name="Open incident").click()
    page.wait_for_url(re.compile(r"/console/incidents/INC-\d{4}-\d{4}\?done=opened"))
    return str(page.url.split("/")[-1].split("?")[0])


def test_incident_workflow_through_the_console(
    page: Any, live_server: str, commander: str, tmp_path: Path
) -> None:
    errors = _collect_errors(page)
    _sign_in(page, live_server, commander)
    ref = _open_incident(page, "Online checkout failing <b>card</b> payments")
    assert page.get_by_role("status").inner_text() == "Incident opened."
    assert page.locator("h1").inner_text() == "Online checkout failing <b>card</b> payments"
    assert page.locator("#clock .clock__value").inner_text() == "None yet"

    # A public update that also moves the state.
    page.fill("#update-body", "We are investigating failed card payments at checkout.")
    page.select_option("#update-state", "identified")
    page.get_by_role("button", name="Publish update").click()
    page.wait_for_url(re.compile(r"\?done=update#updates$"))
    first_update = page.locator("ol.updates > li").first
    assert "We are investigating failed card payments" in first_update.inner_text()
    assert "Identified" in page.locator(".inc-header__badges").inner_text()
    assert page.locator("#clock .clock__value").inner_text() == "0m"

    # A component status change.
    page.select_option("#component-online-checkout", "partial_outage")
    page.locator("#components").get_by_role("button", name="Save statuses").click()
    page.wait_for_url(re.compile(r"\?done=components#components$"))
    checkout = page.locator(
        "#components .component-list__item", has_text="Online ordering and checkout"
    )
    assert "Partial outage" in checkout.inner_text()

    # Completing a task: htmx swaps the task panel in place, no page load.
    tasks = page.locator("#tasks")
    open_before = tasks.locator(".task:not(.task--done)").count()
    assert open_before > 0, "the outage playbook adds tasks"
    page.evaluate("window.__same_document = true")
    tasks.get_by_role("button", name=re.compile("^Mark done")).first.click()
    page.locator("#tasks .notice--success").wait_for()
    # htmx "settles" swapped elements that keep their id: new classes arrive a moment later.
    page.locator("#tasks .task--done").wait_for()
    assert page.evaluate("window.__same_document === true"), "swapped in place by htmx"
    assert page.locator("#tasks .task--done").count() == 1
    assert page.locator("#tasks .task:not(.task--done)").count() == open_before - 1

    # Everything shows after a reload too, including the timeline.
    page.goto(f"{live_server}/console/incidents/{ref}")
    timeline = page.locator("#timeline").text_content() or ""
    for words in ("Opened", "Public update", "State changed", "Components changed", "Task done"):
        assert words in timeline, words

    shot = tmp_path / "incident.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    assert errors == []

    page.goto(f"{live_server}/console/incidents")
    row = page.locator("tbody tr", has_text=ref)
    assert "Identified" in row.inner_text() and "SEV1" in row.inner_text()
    assert errors == []


def test_tasks_complete_without_javascript(
    browser: Any, live_server: str, commander: str, tmp_path: Path
) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        _sign_in(page, live_server, commander)
        _open_incident(page, "Delivery slots not loading")
        done_buttons = page.locator("#tasks").get_by_role("button", name=re.compile("^Mark done"))
        before = done_buttons.count()
        done_buttons.first.click()
        page.wait_for_url(re.compile(r"\?done=task_done#tasks$"))
        assert page.get_by_role("status").inner_text() == "Task completed."
        assert page.locator("#tasks .task--done").count() == 1
        assert done_buttons.count() == before - 1
        shot = tmp_path / "incident-mobile.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
    finally:
        context.close()
