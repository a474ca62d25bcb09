"""The status page in `firstword demo`: the public page is rendered as the incident moves and
its headline is narrated, the update cadence catches a late update, signs and till texts
are printed for a UK and a German store, and the whole public site is exported as static
files.

Files the demo leaves in DATA_DIR/demo/:
    signage/<ref>-<store>-<lang>.pdf and .txt   the in-store sign and till text
    status-site/                                the static export (serve it with any web
                                                server: `python -m http.server -d ...`)

Each step looks up the status page service when it runs and says so if a part is missing,
so the demo keeps working while parts of the status page are still being built.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from types import ModuleType

from firstword.core.errors import FirstwordError
from firstword.demo.steps import DemoRun, demo_step
from firstword.incidents import service as incidents
from firstword.statuspage import signage

SIGN_STORES = (("GB-LON-001", "en"), ("DE-BER-001", "de"))
SITE_DIR = "status-site"
SIGNAGE_DIR = "signage"


def _service() -> ModuleType | None:
    try:
        return importlib.import_module("firstword.statuspage.service")
    except ImportError:
        return None


def _status_line(demo: DemoRun, service: ModuleType) -> str:
    """ "Major System Outage: Online ordering and checkout (major outage), ..." from the
    view the page was just rendered from."""
    with demo.transaction() as session:
        view = service.build_view(session, clock=demo.clock, settings=demo.context.settings)
    broken = [
        f"{c.name} ({c.status.value.replace('_', ' ')})"
        for c in view.components
        if c.status.value != "operational"
    ]
    line = f"Status page: {view.status.description}"
    line += f" — {', '.join(broken)}" if broken else " — every component operational"
    if view.incidents:
        titles = "; ".join(f"{i.ref} {i.title}" for i in view.incidents)
        line += f". Active: {titles}"
    return line + "."


def _rebuild_and_say(demo: DemoRun, what: str) -> None:
    service = _service()
    if service is None or not hasattr(service, "rebuild"):
        demo.say("(The status page service is not installed; nothing rendered.)", style="dim")
        return
    with demo.transaction() as session:
        report = service.rebuild(session, clock=demo.clock, settings=demo.context.settings)
    if not report.ok:
        demo.say(f"Status page render failed: {'; '.join(report.errors)}", style="red")
        return
    demo.say(f"{what} {_status_line(demo, service)}", style="cyan")


@demo_step("statuspage.opened", at=timedelta(minutes=4), order=10, title="Status page: opened")
def page_opened(demo: DemoRun) -> None:
    _rebuild_and_say(demo, "The page re-renders as the outage is opened.")


@demo_step(
    "statuspage.acknowledged", at=timedelta(minutes=12), order=10, title="Status page: first word"
)
def page_acknowledged(demo: DemoRun) -> None:
    _rebuild_and_say(demo, "The first update is on the page.")


@demo_step("statuspage.identified", at=timedelta(hours=2), order=10, title="Status page: cause")
def page_identified(demo: DemoRun) -> None:
    _rebuild_and_say(demo, "Cause identified, click & collect shut down.")


@demo_step(
    "statuspage.signage", at=timedelta(hours=2), order=20, title="Signs and till texts printed"
)
def print_signage(demo: DemoRun) -> None:
    ref = demo.shared["outage_ref"]
    settings = demo.context.settings
    folder = demo.data_dir / SIGNAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    with demo.transaction() as session:
        incident = incidents.get_incident(session, clock=demo.clock, ref=ref)
        catalogue = incidents.list_components(session)
    pdf_problem = ""
    for store_id, lang in SIGN_STORES:
        try:
            store = signage.load_store(settings.data_dir, store_id)
        except FirstwordError:  # a retailer's own stores file may lack the example store
            store = None
        notice = signage.build_notice(
            incident, catalogue=catalogue, settings=settings, lang=lang, store=store
        )
        stem = folder / f"{ref}-{store_id}-{lang}"
        try:
            stem.with_suffix(".pdf").write_bytes(
                signage.sign_pdf(
                    notice, brand_color=settings.brand_primary_color, logo=settings.brand_logo_url
                )
            )
        except signage.PdfUnavailable as exc:  # a laptop without Pango: till texts only
            if not pdf_problem:
                demo.say(f"No PDF signs on this machine: {exc.message}")
            pdf_problem = exc.message
        till = signage.till_text(notice)
        stem.with_suffix(".txt").write_text(till, encoding="utf-8")
        made.append(f"{store_id} ({lang}): " + " / ".join(till.rstrip().split("\n")))
    demo.shared["signage_dir"] = folder
    demo.say(
        f"Signs for the shop doors and till texts, from the latest update, in "
        f"{folder}: " + "; ".join(made)
    )


@demo_step(
    "statuspage.cadence", at=timedelta(hours=3, minutes=5), title="Update overdue: comms alerted"
)
def cadence_check(demo: DemoRun) -> None:
    """What the worker's scheduler does every minute, once: the outage (SEV1 since T+2h:
    an update every 30 minutes) last spoke at T+2h30, so its update is 5 minutes late."""
    settings = demo.context.settings
    with demo.transaction() as session:
        found = incidents.check_overdue_updates(
            session,
            clock=demo.clock,
            policy=incidents.load_cadence_policy(settings.data_dir),
            base_url=settings.public_base_url,
        )
    names = {u.email: u.name for u in demo.users.values()}
    for item in found:
        if not item.newly_recorded:
            continue
        who = ", ".join(names.get(e, e) for e in item.alerted) or "nobody"
        demo.say(
            f"{item.ref}'s next public update was due by {item.due_at:%H:%M} UTC "
            f"({item.severity.value}); it is {item.minutes_overdue} min late. The console shows "
            f"the overdue clock in red, the miss is on the timeline for the scorecard, and "
            f"{who} are alerted by e-mail.",
            style="yellow",
        )
    if not any(item.newly_recorded for item in found):
        demo.say("Every open incident's public update is on time.")


@demo_step("statuspage.breach", at=timedelta(hours=8), order=10, title="Status page: breach")
def page_breach(demo: DemoRun) -> None:
    _rebuild_and_say(demo, "The breach notice is on the page beside the outage.")


@demo_step("statuspage.resolved", at=timedelta(days=3), order=10, title="Status page: resolved")
def page_resolved(demo: DemoRun) -> None:
    _rebuild_and_say(demo, "The outage is resolved.")


@demo_step(
    "statuspage.export", at=timedelta(days=3), order=20, title="Status page exported as files"
)
def export_site(demo: DemoRun) -> None:
    service = _service()
    if service is None or not hasattr(service, "export_site"):
        demo.say("(The status page export is not installed; nothing exported.)", style="dim")
        return
    target = demo.data_dir / SITE_DIR
    with demo.transaction() as session:
        report = service.export_site(session, target)
    demo.shared["status_site"] = report.directory
    demo.say(
        f"The public site is exported as {report.files} static files "
        f"({', '.join(report.languages)}) to {report.directory}: any web server can serve "
        "it, apart from the main systems."
    )
