"""T+30h to T+3d: containment, restoration, resolution, and where things stand."""

from __future__ import annotations

from rich import box
from rich.table import Table

from firstword.demo.scenario import LENGTH, OPERATIONAL, PARTIAL
from firstword.demo.scenario.actions import after, complete, post
from firstword.demo.steps import DemoRun, demo_step, format_offset
from firstword.incidents import service as incidents
from firstword.incidents.schemas import ClockMark
from firstword.incidents.vocabulary import IncidentState


@demo_step("incidents.contained", at=after(30), title="Contained")
def contained(demo: DemoRun) -> None:
    outage_ref, breach_ref = demo.shared["outage_ref"], demo.shared["breach_ref"]
    with demo.transaction() as session:
        for ref in (outage_ref, breach_ref):
            incidents.mark_clock(
                session,
                clock=demo.clock,
                actor=demo.actor("security"),
                ref=ref,
                data=ClockMark(event="contained"),
            )
    complete(demo, breach_ref, "security", "contain the exposure")
    post(
        demo,
        breach_ref,
        "communications",
        "We have closed the route the attacker used and are monitoring our systems closely. "
        "We'll keep this notice up to date: next update by {next}.",
        state=IncidentState.MONITORING,
        promise=after(24),
    )
    post(
        demo,
        outage_ref,
        "communications",
        "The incident is contained. We're now restoring our systems safely, starting with "
        "the website. Next update by {next}.",
        promise=after(6),
    )
    demo.say("Contained. Restoration begins; the breach moves to monitoring.", style="bold")


@demo_step("incidents.restoring", at=after(36), title="Outage: restoration update")
def restoring(demo: DemoRun) -> None:
    incident = post(
        demo,
        demo.shared["outage_ref"],
        "communications",
        "We're bringing our systems back one by one and checking each before it goes live. "
        "The website comes first. Next update by {next}.",
        promise=after(12),
    )
    demo.say(f"Update {len(incident.updates)} on {incident.ref}: restoration under way.")


@demo_step("incidents.website-back", at=after(48), title="Website ordering restored")
def website_back(demo: DemoRun) -> None:
    ref = demo.shared["outage_ref"]
    post(
        demo,
        ref,
        "communications",
        "You can order on our website again. The app and click & collect are still paused. "
        "Next update by {next}.",
        promise=after(12),
        components={"online-checkout": PARTIAL},
    )
    complete(demo, demo.shared["breach_ref"], "legal", "regulator notification")
    complete(demo, demo.shared["breach_ref"], "communications", "am i affected")
    demo.say("Website ordering is back; the regulators have been notified within 72 hours.")


@demo_step("incidents.app-back", at=after(60), title="App restored")
def app_back(demo: DemoRun) -> None:
    post(
        demo,
        demo.shared["outage_ref"],
        "communications",
        "Ordering in our app works again. Click & collect is returning store by store. "
        "Next update by {next}.",
        promise=after(12),
        state=IncidentState.MONITORING,
        components={
            "online-checkout": OPERATIONAL,
            "mobile-app": OPERATIONAL,
            "click-and-collect": PARTIAL,
        },
    )
    demo.say("App ordering is back; the outage moves to monitoring.")


@demo_step("incidents.breach-monitoring", at=after(54), title="Breach: daily update")
def breach_monitoring(demo: DemoRun) -> None:
    incident = post(
        demo,
        demo.shared["breach_ref"],
        "communications",
        "We are still monitoring closely and have seen no misuse of the information taken. "
        "Remember: we will never ask for your password or card details. Next update by "
        "{next}.",
        promise=after(24),
    )
    demo.say(f"Update {len(incident.updates)} on {incident.ref}: daily while it is monitored.")


@demo_step("incidents.resolved", at=LENGTH, title="Outage resolved")
def resolved(demo: DemoRun) -> None:
    ref = demo.shared["outage_ref"]
    post(
        demo,
        ref,
        "communications",
        "Online ordering, the app and click & collect are working normally again. Thank you "
        "for your patience. We'll publish a summary of what happened.",
        state=IncidentState.RESOLVED,
        components={"click-and-collect": OPERATIONAL},
    )
    complete(demo, ref, "communications", "at least every 30 minutes")
    complete(demo, ref, "communications", "confirm recovery")
    demo.say(
        f"{ref} is resolved. {demo.shared['breach_ref']} stays open in monitoring.",
        style="bold green",
    )


@demo_step("incidents.summary", at=LENGTH, order=100, title="Where things stand")
def summary(demo: DemoRun) -> None:
    table = Table(title=f"Incidents at {format_offset(demo.elapsed)}", box=box.SIMPLE_HEAD)
    for column in ("ref", "kind", "sev", "state", "ack", "notified", "tasks"):
        table.add_column(column)
    with demo.transaction() as session:
        for key in ("outage_ref", "breach_ref"):
            i = incidents.get_incident(session, clock=demo.clock, ref=demo.shared[key])
            done = sum(1 for t in i.tasks if t.done_at is not None)
            table.add_row(
                i.ref,
                i.kind.value.replace("customer_data_", "data ").replace("_", " "),
                i.severity.value,
                i.state.value,
                _short(i.clock.time_to_acknowledge_seconds),
                _short(i.clock.time_to_notify_seconds),
                f"{done}/{len(i.tasks)}",
            )
    demo.console.print(table)


def _short(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    hours, minutes = divmod(int(seconds // 60), 60)
    return f"{hours}h{minutes:02d}" if hours else f"{minutes}m"
