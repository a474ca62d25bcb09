"""T+0 to T+4h: orders stop, the outage is opened and acknowledged, the cause is found; and
the outage's routine public updates up to T+1d."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from rich.table import Table

from firstword.demo.retailer import compare_window
from firstword.demo.scenario import ACKNOWLEDGE_AFTER, MAJOR, OUTAGE_TITLE, PARTIAL
from firstword.demo.scenario.actions import (
    after,
    assign,
    complete,
    duration,
    note,
    post,
    shorten,
)
from firstword.demo.steps import DemoRun, demo_step
from firstword.incidents import service as incidents
from firstword.incidents.schemas import IncidentCreate, IncidentEdit, TaskAdd
from firstword.incidents.vocabulary import IncidentKind, IncidentRole, IncidentState, Severity


@demo_step("incidents.orders-stop", at=after(), title="Online orders stop")
def orders_stop(demo: DemoRun) -> None:
    window = compare_window(demo.retailer.orders, demo.start, demo.start + after(minutes=4))
    demo.shared["drop_window"] = window
    online = [w for w in window if w.channel != "store"]
    store = next(w for w in window if w.channel == "store")
    demo.say(
        f"Checkout starts failing. From {demo.start:%H:%M} to {demo.start + after(minutes=4):%H:%M}"
        f" UTC the website, app and click & collect take {sum(w.observed for w in online)}"
        f" orders; the same minutes of the previous {online[0].baseline_weeks} weeks averaged"
        f" {sum(w.expected for w in online):.1f}. Stores take {store.observed}"
        f" (usually {store.expected:.1f}): they are trading.",
        style="bold",
    )


@demo_step("incidents.open-outage", at=after(minutes=4), title="Outage opened")
def open_outage(demo: DemoRun) -> None:
    with demo.transaction() as session:
        incident = incidents.open_incident(
            session,
            clock=demo.clock,
            actor=demo.actor("incident_commander"),
            data=IncidentCreate(
                title=OUTAGE_TITLE,
                kind=IncidentKind.OUTAGE,
                severity=Severity.SEV2,
                summary="Customers cannot complete orders on the website or app; click & "
                "collect ordering fails too. Stores are trading normally.",
                customer_advice="Please visit one of our stores or try again later. If you "
                "were charged without a confirmation, you will not be charged "
                "twice.",
                components={
                    "online-checkout": MAJOR,
                    "mobile-app": MAJOR,
                    "click-and-collect": PARTIAL,
                },
                detected_at=demo.start,
            ),
        )
    ref = incident.ref
    demo.shared["outage_ref"] = ref
    assign(
        demo,
        ref,
        [
            IncidentRole.INCIDENT_COMMANDER,
            IncidentRole.COMMUNICATIONS,
            IncidentRole.CUSTOMER_SERVICE,
        ],
    )
    drop = demo.shared["drop_window"]
    note(
        demo,
        ref,
        "incident_commander",
        "Order feed: "
        + ", ".join(f"{w.channel} {w.observed} (expected {w.expected:.1f})" for w in drop)
        + f" in the 4 minutes from {demo.start:%H:%M} UTC. Checkout API returns 503.",
    )
    demo.say(
        f"{demo.users['incident_commander'].name} opens {ref} (SEV2 outage): online "
        f"checkout and the app in major outage, click & collect partial. The "
        f"{incident.playbook} playbook adds {len(incident.tasks)} tasks."
    )


@demo_step("incidents.scope", at=after(minutes=10), title="Impact confirmed")
def scope_confirmed(demo: DemoRun) -> None:
    title = complete(demo, demo.shared["outage_ref"], "incident_commander", "confirm impact")
    demo.say(f"Task done: {title}.")


@demo_step("incidents.acknowledge", at=ACKNOWLEDGE_AFTER, title="First public update")
def acknowledge(demo: DemoRun) -> None:
    ref = demo.shared["outage_ref"]
    incident = post(
        demo,
        ref,
        "communications",
        "Some of you can't place orders on our website or app at the moment, and "
        "click & collect orders can't be placed either. Our stores are open as "
        "normal. We're working on it and will update here by "
        "{next}.",
        promise=after(minutes=30),
    )
    complete(demo, ref, "communications", "first public acknowledgement")
    demo.say(
        f"{demo.users['communications'].name} posts the first public update. Time to "
        f"acknowledge: {duration(incident.clock.time_to_acknowledge_seconds)}.",
        style="green",
    )


@demo_step("incidents.banner", at=after(minutes=20), title="Banner and service briefing")
def banner_and_briefing(demo: DemoRun) -> None:
    ref = demo.shared["outage_ref"]
    complete(demo, ref, "communications", "banner")
    complete(demo, ref, "customer_service", "brief customer service")
    demo.say(
        "Site banner and in-app message point to the status page; customer service has "
        "a holding line."
    )


def _routine(ref_key: str, who: str, body: str, every: timedelta) -> Callable[[DemoRun], None]:
    def step(demo: DemoRun) -> None:
        incident = post(demo, demo.shared[ref_key], who, body, promise=every)
        demo.say(
            f"Update {len(incident.updates)} on {incident.ref}: {shorten(incident.updates[0].body)}"
        )

    return step


_ROUTINE_UPDATES = [
    (
        after(minutes=42),
        after(minutes=30),
        "We're still working to restore ordering on our website and app. If you were charged for "
        "an order without getting a confirmation, you won't be charged twice: the pending payment "
        "drops off within a few days. Stores are trading normally. Next update by {next}.",
    ),
    (
        after(1, 12),
        after(minutes=30),
        "Ordering on our website and app is still unavailable while we investigate the cause. "
        "Click & collect orders already placed can be collected as normal. Next update by {next}.",
    ),
    (
        after(1, 42),
        after(minutes=18),
        "No change yet: you still can't order on our website or app. Our stores are open. "
        "Next update by {next}.",
    ),
    (  # promises the SEV1 half hour; the next update comes at T+4h: a recorded miss
        after(2, 30),
        after(minutes=30),
        "Online ordering and click & collect remain paused while we work with specialist cyber "
        "security experts. Stores are open and accept card and contactless payments. "
        "Next update by {next}.",
    ),
    (
        after(4),
        after(2, 30),
        "Online ordering will stay paused overnight. If your click & collect order was due today, "
        "you'll get a full refund; there's no need to contact us. Next update by {next}.",
    ),
    (
        after(6, 30),
        after(1, 30),
        "Our investigation with external experts continues and online ordering remains paused. "
        "Next update by {next}.",
    ),
    (
        after(13),
        after(5),
        "Good morning. Online ordering remains paused today; all our stores are open as usual. "
        "Next update by {next}.",
    ),
    (
        after(18),
        after(6),
        "We're rebuilding the affected systems from clean backups. Online ordering stays paused "
        "for now. Next update by {next}.",
    ),
    (
        after(24),
        after(6),
        "Online ordering is still paused. We'll reopen it only when we're sure it is safe. "
        "Next update by {next}.",
    ),
]
for _i, (_when, _every, _body) in enumerate(_ROUTINE_UPDATES):
    demo_step(f"incidents.outage-update-{_i + 1}", at=_when, title="Outage: routine update")(
        _routine("outage_ref", "communications", _body, _every)
    )


@demo_step("incidents.first-hour", at=after(1), title="First hour in numbers")
def first_hour(demo: DemoRun) -> None:
    window = compare_window(demo.retailer.orders, demo.start, demo.start + after(1))
    demo.shared["first_hour"] = window
    table = Table(
        title=f"Orders {demo.start:%H:%M}-{demo.start + after(1):%H:%M} UTC, against "
        f"the same hour of the previous {window[0].baseline_weeks} weeks"
    )
    for column in ("channel", "orders", "expected", "share of usual"):
        table.add_column(column, justify="left" if column == "channel" else "right")
    for w in window:
        share = f"{w.observed / w.expected:.0%}" if w.expected else "-"
        table.add_row(w.channel, str(w.observed), f"{w.expected:.1f}", share)
    demo.console.print(table)
    lost = sum(w.expected - w.observed for w in window if w.channel != "store")
    demo.say(f"The first hour costs about {max(lost, 0):.0f} online orders.")


@demo_step("incidents.identified", at=after(2), title="Cause identified: intrusion")
def identified(demo: DemoRun) -> None:
    ref = demo.shared["outage_ref"]
    ic = demo.actor("incident_commander")
    with demo.transaction() as session:
        incidents.edit_incident(
            session, clock=demo.clock, actor=ic, ref=ref, data=IncidentEdit(severity=Severity.SEV1)
        )
    assign(demo, ref, [IncidentRole.SECURITY])
    note(
        demo,
        ref,
        "security",
        "Ransomware-like intrusion: files encrypted on the order-management servers, ransom "
        f"note found at {demo.start + after(1, 51):%H:%M} UTC. Order management and click & "
        "collect shut down as a precaution (decided by the incident commander at "
        f"{demo.start + after(1, 58):%H:%M} UTC).",
    )
    with demo.transaction() as session:
        for title, due in (
            ("Isolate affected hosts and disable compromised accounts", 30),
            ("Engage the incident response retainer and the cyber insurer", 120),
        ):
            incidents.add_task(
                session,
                clock=demo.clock,
                actor=ic,
                ref=ref,
                data=TaskAdd(
                    title=title,
                    owner_role=IncidentRole.SECURITY,
                    due_at=demo.clock.now() + after(minutes=due),
                ),
            )
    post(
        demo,
        ref,
        "communications",
        "We're dealing with a cyber security incident. As a precaution we've taken some "
        "systems offline, including online ordering and click & collect: please don't travel "
        "to collect an order, we'll tell you when it's ready. Our stores are open and accept "
        "card and contactless payments. Next update by "
        "{next}.",
        promise=after(minutes=30),
        state=IncidentState.IDENTIFIED,
        components={"click-and-collect": MAJOR},
    )
    complete(demo, ref, "incident_commander", "orphaned authorisations")
    demo.say(
        f"Identified: a ransomware-like intrusion. {ref} goes to SEV1; click & collect is "
        "shut down as a precaution. Stores keep trading.",
        style="bold red",
    )


@demo_step("incidents.contain-hosts", at=after(2, 30), order=1, title="Hosts isolated")
def hosts_isolated(demo: DemoRun) -> None:
    complete(demo, demo.shared["outage_ref"], "security", "isolate affected hosts")
    demo.say("Security isolates the affected hosts.")


@demo_step("incidents.goodwill", at=after(4), order=1, title="Goodwill decided")
def goodwill(demo: DemoRun) -> None:
    ref = demo.shared["outage_ref"]
    complete(demo, ref, "security", "incident response retainer")
    complete(demo, ref, "incident_commander", "goodwill")
    demo.say(
        "Incident response firm engaged; free delivery on the next order decided as a "
        "goodwill gesture."
    )
