"""T+6h to T+24h: the customer-data breach is found, acknowledged and notified."""

from __future__ import annotations

from firstword.demo.scenario import BREACH_CATEGORIES, BREACH_TITLE
from firstword.demo.scenario.actions import (
    after,
    assign,
    complete,
    duration,
    note,
    online_customers,
    post,
)
from firstword.demo.steps import DemoRun, demo_step
from firstword.incidents import service as incidents
from firstword.incidents.schemas import ClockMark, IncidentCreate, StateChange
from firstword.incidents.vocabulary import IncidentKind, IncidentRole, IncidentState, Severity


@demo_step("incidents.open-breach", at=after(6), title="Data breach found")
def open_breach(demo: DemoRun) -> None:
    outage_ref = demo.shared["outage_ref"]
    scope = online_customers(demo.retailer)
    demo.shared["breach_scope"] = scope
    counts = scope.counts
    with demo.transaction() as session:
        incident = incidents.open_incident(
            session,
            clock=demo.clock,
            actor=demo.actor("incident_commander"),
            data=IncidentCreate(
                title=BREACH_TITLE,
                kind=IncidentKind.CUSTOMER_DATA_BREACH,
                severity=Severity.SEV1,
                summary=f"During {outage_ref} the attacker copied the online customer "
                f"database: {scope.customers:,} customers ({counts}).",
                data_categories=BREACH_CATEGORIES,
            ),
        )
    ref = incident.ref
    demo.shared["breach_ref"] = ref
    assign(
        demo,
        ref,
        [
            IncidentRole.INCIDENT_COMMANDER,
            IncidentRole.LEGAL,
            IncidentRole.SECURITY,
            IncidentRole.COMMUNICATIONS,
            IncidentRole.CUSTOMER_SERVICE,
        ],
    )
    note(
        demo,
        ref,
        "security",
        f"Found while investigating {outage_ref}: 38 GB sent to a cloud storage host from the "
        "customer database replica before the encryption started. Tables: customers, "
        f"addresses, orders. {scope.customers:,} customers ({counts}). No card data: "
        "payments are tokenised by the payment provider.",
    )
    note(
        demo,
        outage_ref,
        "incident_commander",
        f"Linked: {ref} opened for the exfiltration of customer data found during this incident.",
    )
    complete(demo, ref, "legal", "record when we became aware")
    demo.say(
        f"Security finds customer data was copied out. {ref} opened: customer data "
        f"breach, SEV1, {scope.customers:,} customers ({counts}); name, e-mail, phone, "
        "postal address, date of birth and order history. The 72-hour regulator clock "
        "starts now.",
        style="bold red",
    )


@demo_step("incidents.breach-statement", at=after(8), title="Breach acknowledged")
def breach_statement(demo: DemoRun) -> None:
    ref, outage_ref = demo.shared["breach_ref"], demo.shared["outage_ref"]
    incident = post(
        demo,
        ref,
        "communications",
        "We have found that an unauthorised party took some customer information "
        "from our systems during the cyber security incident. It includes names, "
        "e-mail addresses, phone numbers, postal addresses, dates of birth and "
        "order history. It does not include payment card details or passwords. We "
        "are contacting affected customers directly. Be alert to messages claiming "
        "to be from us: we will never ask for your password or card details. We will "
        "update this notice by {next}.",
        promise=after(12),
    )
    complete(demo, ref, "communications", "status page statement")
    post(
        demo,
        outage_ref,
        "communications",
        f"Online ordering remains paused. We've published a separate notice ({ref}) about "
        "customer information taken during this incident. Next update by "
        "{next}.",
        promise=after(5),
    )
    demo.say(
        f"{ref} is acknowledged publicly (time to acknowledge "
        f"{duration(incident.clock.time_to_acknowledge_seconds)}), with a phishing "
        "warning.",
        style="green",
    )


@demo_step("incidents.breach-evidence", at=after(10), title="Evidence preserved")
def breach_evidence(demo: DemoRun) -> None:
    ref = demo.shared["breach_ref"]
    complete(demo, ref, "security", "preserve evidence")
    complete(demo, ref, "legal", "outside counsel")
    with demo.transaction() as session:
        incidents.change_state(
            session,
            clock=demo.clock,
            actor=demo.actor("incident_commander"),
            ref=ref,
            data=StateChange(
                state=IncidentState.IDENTIFIED, note="Access path and data set known."
            ),
        )
    demo.say("Evidence preserved, outside counsel and insurer engaged; the breach is identified.")


@demo_step("incidents.customers-notified", at=after(20), title="Customers notified")
def customers_notified(demo: DemoRun) -> None:
    ref = demo.shared["breach_ref"]
    complete(demo, ref, "communications", "customer notice")
    complete(demo, ref, "customer_service", "dedicated line")
    with demo.transaction() as session:
        incident = incidents.mark_clock(
            session,
            clock=demo.clock,
            actor=demo.actor("communications"),
            ref=ref,
            data=ClockMark(event="customers_notified"),
        )
    post(
        demo,
        ref,
        "communications",
        "We have now contacted every affected customer by e-mail, or by letter where we have "
        "no e-mail address. Our dedicated helpline is open from 8am to 8pm. We will update "
        "this notice by {next}.",
        promise=after(12),
    )
    demo.say(
        f"Affected customers notified: time to notify "
        f"{duration(incident.clock.time_to_notify_seconds)} after awareness.",
        style="green",
    )


@demo_step("incidents.scoped", at=after(24), order=1, title="Breach scoped")
def breach_scoped(demo: DemoRun) -> None:
    complete(demo, demo.shared["breach_ref"], "security", "scope the data sets")
    demo.say("Data sets and categories confirmed per country.")
