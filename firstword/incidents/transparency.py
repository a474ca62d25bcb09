"""The transparency clock: when customers were told, and how long they waited."""

from __future__ import annotations

from datetime import datetime

from firstword.core.errors import InvalidInput
from firstword.incidents.models import Incident
from firstword.incidents.schemas import TransparencyClock


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


def derive(incident: Incident, now: datetime) -> TransparencyClock:
    detected = incident.detected_at
    return TransparencyClock(
        detected_at=detected,
        acknowledged_at=incident.acknowledged_at,
        customers_notified_at=incident.customers_notified_at,
        contained_at=incident.contained_at,
        resolved_at=incident.resolved_at,
        time_to_acknowledge_seconds=_seconds(incident.acknowledged_at, detected),
        time_to_notify_seconds=_seconds(incident.customers_notified_at, detected),
        time_since_last_public_update_seconds=_seconds(now, incident.last_public_update_at),
        time_since_detection_seconds=(incident.resolved_at or now).timestamp()
        - detected.timestamp(),
    )


def aware(field: str, value: datetime) -> datetime:
    """Refuse naive times: a retailer spread over UK, German and US time zones cannot guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "needs a time zone, e.g. 2026-11-20T08:30:00Z")
    return value


def check_not_future(field: str, value: datetime, now: datetime) -> datetime:
    value = aware(field, value)
    if value > now:
        raise InvalidInput(field, f"is in the future ({value.isoformat()} > now {now.isoformat()})")
    return value


def check_moment(field: str, value: datetime, *, detected_at: datetime, now: datetime) -> datetime:
    """A clock milestone: not before detection, not in the future."""
    value = check_not_future(field, value, now)
    if value < detected_at:
        raise InvalidInput(
            field, f"is before the incident was detected ({detected_at.isoformat()})"
        )
    return value
