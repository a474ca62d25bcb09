"""The scripted incident: an online-ordering outage that becomes a customer-data breach.

T+0      checkout fails; web, app and click & collect orders stop (measured in orders.parquet)
T+0:04   the incident commander opens the outage (SEV2) with the online-ordering playbook
T+0:12   first public update: the transparency clock's time to acknowledge is 12 minutes
...      public updates every ~30 minutes while it is fresh, then every few hours; each
         update promises the next one ("next update by"), and the page shows that promise.
         The T+2:30 update promises the SEV1 half hour but the next comes at T+4:00: the
         scheduler records that miss at T+3:05
T+2:00   cause identified: a ransomware-like intrusion; click & collect shut down as a
         precaution; severity raised to SEV1 (the kind stays "outage")
T+6:00   security finds customer data was exfiltrated: a second incident, "Customer data
         breach", with the breach playbook, linked to the outage by internal notes
T+8:00   the breach is acknowledged publicly
T+20:00  affected customers notified (transparency clock)
T+30:00  contained
T+2d     website ordering back; T+2d 6h daily breach update; T+2d 12h app back
         (monitoring); T+3d outage resolved. The breach stays open, in monitoring.

The steps live in outage.py (T+0 to T+4h), breach.py (T+6h to T+24h) and recovery.py
(T+30h to T+3d); actions.py wraps the incidents service for them. Steps leave in
`demo.shared`: "outage_ref", "breach_ref", "drop_window" and "first_hour"
(lists of retailer.WindowCount), "breach_scope" (an actions.BreachScope).

The start (T+0) is 18:40 UTC - the evening online peak in the UK - on the latest day that
puts the end of the script (T+3d) at least an hour before the wall clock, so that served on
the real clock afterwards the console reads as an incident of the last few days.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from firstword.demo.demand import Disruption
from firstword.incidents.vocabulary import ComponentStatus, DataCategory

LENGTH = timedelta(days=3)
START_TIME_UTC = time(18, 40)
OUTAGE_TITLE = "Online ordering unavailable on website and app"
BREACH_TITLE = "Customer data breach"
ACKNOWLEDGE_AFTER = timedelta(minutes=12)
MAJOR, PARTIAL, OPERATIONAL = (
    ComponentStatus.MAJOR_OUTAGE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.OPERATIONAL,
)
BREACH_CATEGORIES = [
    DataCategory.NAME,
    DataCategory.EMAIL,
    DataCategory.PHONE,
    DataCategory.POSTAL_ADDRESS,
    DataCategory.DATE_OF_BIRTH,
    DataCategory.ORDER_HISTORY,
]


def default_start(now: datetime) -> datetime:
    """T+0 for a demo run at `now` (see the module docstring)."""
    latest = now.astimezone(UTC) - LENGTH - timedelta(hours=1)
    start = datetime.combine(latest.date(), START_TIME_UTC, tzinfo=UTC)
    return start if start <= latest else start - timedelta(days=1)


def disruptions(start: datetime) -> tuple[Disruption, ...]:
    """What the incident does to orders: a trickle gets through until the precautionary
    shutdown at T+2h, then nothing until each channel is restored."""
    hours = timedelta(hours=1)
    return (
        Disruption(
            start, start + 2 * hours, ("web", "app", "click_and_collect"), 0.03, "checkout failing"
        ),
        Disruption(start + 2 * hours, start + 48 * hours, ("web",), 0.0, "shut down"),
        Disruption(start + 2 * hours, start + 60 * hours, ("app",), 0.0, "shut down"),
        Disruption(start + 2 * hours, start + LENGTH, ("click_and_collect",), 0.0, "shut down"),
    )
