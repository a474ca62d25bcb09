"""The update cadence: how often customers hear from us while an incident is open, and what
happens when a promised update is late.

Rules (intervals per severity in cadence.yaml, overridable in DATA_DIR/cadence.yaml):

* While an incident is open (investigating, identified, monitoring), its next public update
  is due `every` minutes after the last public update, or, before the first one,
  `first_within` minutes after detection (the first word comes sooner than the routine).
* A severity change re-times the promise from the last update with the new interval.
* Resolved incidents (and postmortems) have nothing due.
* An update is overdue once the clock is past its due time.

`check_overdue` (run every minute by the worker's scheduler) records each missed due time
ONCE: an `update_overdue` timeline entry (with its audit record) and an e-mail through the
outbox to the incident's communications lead and incident commander (assigned roles; else
every active user with the communications staff role), one per person and due time. The
transparency scorecard reads those entries (`misses`): when each update was due, and when
the late update finally came.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from firstword.core import outbox
from firstword.core.auth import service as auth
from firstword.core.auth.roles import Role, system_actor
from firstword.core.clock import Clock, as_utc
from firstword.core.errors import FirstwordError, InvalidInput, NotFound
from firstword.incidents import changes, datafiles
from firstword.incidents.models import Incident, PublicUpdate, TimelineEntry
from firstword.incidents.schemas import CadenceMiss, CadenceStatus, OverdueUpdate
from firstword.incidents.timeline import record_change
from firstword.incidents.vocabulary import (
    OPEN_STATES,
    IncidentRole,
    IncidentState,
    Severity,
)

SHIPPED_FILE = Path(__file__).resolve().parent / "cadence.yaml"
USER_FILE_NAME = "cadence.yaml"
OVERDUE_KIND = "update_overdue"
ALERT_TOPIC = "incidents.update_overdue"
ALERT_ROLES = (IncidentRole.COMMUNICATIONS, IncidentRole.INCIDENT_COMMANDER)
MAX_MINUTES = 7 * 24 * 60  # a week: anything longer is not a cadence


# --- the policy ---------------------------------------------------------------------------


class SeverityCadence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    every: int = Field(ge=1, le=MAX_MINUTES)
    first_within: int = Field(ge=1, le=MAX_MINUTES)

    @model_validator(mode="after")
    def _first_comes_sooner(self) -> SeverityCadence:
        if self.first_within > self.every:
            raise ValueError(
                f"first_within ({self.first_within}) must not be longer than every "
                f"({self.every}): the first word comes sooner than the routine updates"
            )
        return self


class _ShippedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severities: dict[Severity, SeverityCadence]


class _UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every: int | None = Field(default=None, ge=1, le=MAX_MINUTES)
    first_within: int | None = Field(default=None, ge=1, le=MAX_MINUTES)


class _UserFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severities: dict[Severity, _UserEntry] = Field(default_factory=dict)


@dataclass(frozen=True)
class CadencePolicy:
    """Intervals per severity. `problem` says why a user file was ignored (the shipped
    intervals apply then, so a typo never silences the overdue alerts)."""

    severities: Mapping[Severity, SeverityCadence]
    source: str  # "shipped" or the user file's path
    problem: str | None = None

    def every(self, severity: Severity) -> timedelta:
        return timedelta(minutes=self.severities[severity].every)

    def first_within(self, severity: Severity) -> timedelta:
        return timedelta(minutes=self.severities[severity].first_within)


def _shipped() -> dict[Severity, SeverityCadence]:
    parsed = datafiles.load(SHIPPED_FILE, _ShippedFile)
    missing = [s.value for s in Severity if s not in parsed.severities]
    if missing:
        raise FirstwordError(f"{SHIPPED_FILE.name} lacks severities: {', '.join(missing)}")
    return dict(parsed.severities)


def _severity_line(text: str, severity: Severity) -> int:
    """Line of `severities: {SEVn: ...}` in a user file, for errors found after parsing."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 1
    if not isinstance(root, yaml.MappingNode):
        return 1
    for key, value in root.value:
        if key.value == "severities" and isinstance(value, yaml.MappingNode):
            for sev_key, _ in value.value:
                if sev_key.value == severity.value:
                    return int(sev_key.start_mark.line) + 1
    return 1


def merge(
    shipped: Mapping[Severity, SeverityCadence], user_file: Path
) -> dict[Severity, SeverityCadence]:
    """The shipped intervals with a user file's overrides (only the fields it gives)."""
    text = datafiles.read_text(user_file)
    user = datafiles.parse(text, user_file.name, _UserFile)
    merged = dict(shipped)
    for severity, entry in user.severities.items():
        values = merged[severity].model_dump() | entry.model_dump(exclude_none=True)
        try:
            merged[severity] = SeverityCadence.model_validate(values)
        except ValidationError as exc:
            reason = f"severities.{severity.value}: {exc.errors()[0]['msg']}"
            line = _severity_line(text, severity)
            raise InvalidInput(f"{user_file.name}:{line}", reason) from None
    return merged


def read_policy(user_file: Path | None = None) -> CadencePolicy:
    """The shipped intervals with `user_file`'s overrides applied. A broken user file is
    reported in `problem` (naming file and line) and ignored."""
    shipped = _shipped()
    if user_file is None or not user_file.exists():
        return CadencePolicy(shipped, "shipped")
    try:
        return CadencePolicy(merge(shipped, user_file), str(user_file))
    except InvalidInput as exc:
        problem = f"{exc.field}: {exc.reason}; using the shipped intervals"
        return CadencePolicy(shipped, "shipped", problem=problem)


_cache_lock = threading.Lock()
_cache: dict[Path | None, tuple[tuple[float, int] | None, CadencePolicy]] = {}


def load_policy(data_dir: Path | None = None) -> CadencePolicy:
    """The policy for a data directory (DATA_DIR/cadence.yaml over the shipped file),
    re-read only when the user file appears, changes or goes away."""
    user_file = data_dir / USER_FILE_NAME if data_dir is not None else None
    try:
        stat = user_file.stat() if user_file is not None else None
        key = (stat.st_mtime, stat.st_size) if stat is not None else None
    except OSError:
        key = None
    with _cache_lock:
        hit = _cache.get(user_file)
        if hit is not None and hit[0] == key:
            return hit[1]
    policy = read_policy(user_file)
    with _cache_lock:
        _cache[user_file] = (key, policy)
    return policy


# --- the arithmetic -------------------------------------------------------------------------


def status_of(
    *,
    ref: str,
    severity: Severity,
    state: IncidentState,
    detected_at: datetime,
    last_public_update_at: datetime | None,
    now: datetime,
    policy: CadencePolicy,
    promised_at: datetime | None = None,
) -> CadenceStatus:
    """Where an incident stands against its cadence at `now` (pure: no database).
    `promised_at`: an explicit promise made with the last update, which replaces the
    interval until the next update."""
    severity, state = Severity(severity), IncidentState(state)
    rule = policy.severities[severity]
    is_open = state in OPEN_STATES
    first = last_public_update_at is None
    due: datetime | None = None
    if is_open:
        due = (
            as_utc(detected_at) + policy.first_within(severity)
            if last_public_update_at is None
            else as_utc(promised_at)
            if promised_at is not None
            else as_utc(last_public_update_at) + policy.every(severity)
        )
    overdue = due is not None and now > due
    late = (now - due).total_seconds() if due is not None and overdue else 0.0
    until = (due - now).total_seconds() if due is not None and not overdue else None
    return CadenceStatus(
        ref=ref,
        severity=severity,
        state=state,
        is_open=is_open,
        interval_minutes=rule.every,
        first_update_minutes=rule.first_within,
        awaiting_first_update=is_open and first,
        last_public_update_at=last_public_update_at,
        next_update_due=due,
        overdue=overdue,
        minutes_overdue=int(late // 60),
        minutes_until_due=math.ceil(until / 60) if until is not None else None,
    )


def status_of_row(incident: Incident, now: datetime, policy: CadencePolicy) -> CadenceStatus:
    return status_of(
        ref=incident.ref,
        severity=Severity(incident.severity),
        state=IncidentState(incident.state),
        detected_at=incident.detected_at,
        last_public_update_at=incident.last_public_update_at,
        now=now,
        policy=policy,
        promised_at=incident.next_update_promised_at,
    )


def cadence_status(
    session: Session, *, clock: Clock, ref: str, policy: CadencePolicy
) -> CadenceStatus:
    return status_of_row(changes.find(session, ref), clock.now(), policy)


# --- recording misses ----------------------------------------------------------------------


def _recorded_due_times(session: Session, incident_id: int) -> set[str]:
    afters = session.scalars(
        select(TimelineEntry.after).where(
            TimelineEntry.incident_id == incident_id, TimelineEntry.kind == OVERDUE_KIND
        )
    )
    return {str(after.get("due_at")) for after in afters if after}


def _recipients(session: Session, incident: Incident) -> list[auth.UserRead]:
    """Active users in the communications or incident-commander role on the incident; when
    nobody holds either, every active user with the communications staff role."""
    wanted = {r.value for r in ALERT_ROLES}
    ids = sorted({a.user_id for a in incident.assignments if a.role in wanted})
    people: list[auth.UserRead] = []
    for user_id in ids:
        try:
            user = auth.get_user(session, user_id)
        except NotFound:
            continue
        if user.is_active:
            people.append(user)
    if people:
        return people
    return [
        u for u in auth.list_users(session) if u.is_active and Role.COMMUNICATIONS.value in u.roles
    ]


def _when(value: datetime) -> str:
    return f"{value:%H:%M} UTC on {value:%d %b %Y}"


def _alert(
    incident: Incident, status: CadenceStatus, now: datetime, base_url: str
) -> dict[str, str]:
    assert status.next_update_due is not None
    due = status.next_update_due
    what = (
        f"the first public word was due {status.first_update_minutes} min after detection"
        if status.awaiting_first_update
        else f"{status.severity.value} incidents promise customers an update every "
        f"{status.interval_minutes} min"
    )
    minutes = max(1, int((now - due).total_seconds() // 60))
    link = f"{base_url.rstrip('/')}/console/incidents/{incident.ref}" if base_url else incident.ref
    subject = (
        f"Public update overdue: {incident.ref} ({status.severity.value}) was due {due:%H:%M} UTC"
    )
    text = (
        f'The next public update on {incident.ref} "{incident.title}" was due by {_when(due)} '
        f"and has not been posted; it is {minutes} min overdue ({what}).\n\n"
        "Customers are waiting for word. Post an update now, even if there is no news: say "
        "what you know, what customers can do, and when you will update next.\n\n"
        f"Incident: {link}\n"
    )
    return {"subject": subject, "text": text}


def check_overdue(
    session: Session, *, clock: Clock, policy: CadencePolicy, base_url: str = ""
) -> list[OverdueUpdate]:
    """Every open incident whose update is overdue now. A miss not yet recorded is recorded
    (timeline entry + audit + e-mails, see the module docstring); checking again changes
    nothing. Concurrent checkers are serialised on the incident row."""
    now = clock.now()
    found: list[OverdueUpdate] = []
    candidates = session.scalars(
        select(Incident)
        .where(Incident.state.in_([s.value for s in OPEN_STATES]))
        .order_by(Incident.id)
    ).all()
    for candidate in candidates:
        status = status_of_row(candidate, now, policy)
        if not status.overdue or status.next_update_due is None:
            continue
        due_key = status.next_update_due.isoformat()
        newly = due_key not in _recorded_due_times(session, candidate.id)
        alerted: list[str] = []
        if newly:
            # Re-read under the row lock: another checker may have recorded it meanwhile, or
            # an update may just have been posted.
            incident = changes.find(session, candidate.ref, lock=True)
            status = status_of_row(incident, now, policy)
            if not status.overdue or status.next_update_due is None:
                continue
            due_key = status.next_update_due.isoformat()
            newly = due_key not in _recorded_due_times(session, incident.id)
            if newly:
                alerted = _record_miss(session, clock, incident, status, now, base_url)
        assert status.next_update_due is not None
        found.append(
            OverdueUpdate(
                ref=candidate.ref,
                title=candidate.title,
                severity=status.severity,
                due_at=status.next_update_due,
                minutes_overdue=status.minutes_overdue,
                newly_recorded=newly,
                alerted=alerted,
            )
        )
    return found


def _record_miss(
    session: Session,
    clock: Clock,
    incident: Incident,
    status: CadenceStatus,
    now: datetime,
    base_url: str,
) -> list[str]:
    assert status.next_update_due is not None
    due = status.next_update_due
    people = _recipients(session, incident)
    rule = (
        f"first word within {status.first_update_minutes} min of detection"
        if status.awaiting_first_update
        else f"{status.severity.value}: every {status.interval_minutes} min"
    )
    who = ", ".join(p.email for p in people) or "nobody (no communications user exists)"
    # bump=False: recording a miss is not an edit, so it must not invalidate a colleague's
    # open edit form (expected_version) at the very moment they are catching up.
    record_change(
        session,
        clock=clock,
        actor=system_actor("cadence"),
        incident=incident,
        kind=OVERDUE_KIND,
        bump=False,
        summary=f"Public update overdue: due by {due:%H:%M} UTC ({rule}); alerted {who}",
        after={
            "due_at": due,
            "severity": status.severity,
            "interval_minutes": status.interval_minutes,
            "first_update": status.awaiting_first_update,
            "last_public_update_at": incident.last_public_update_at,
            "alerted": [p.email for p in people],
        },
    )
    message = _alert(incident, status, now, base_url)
    for person in people:
        outbox.enqueue(
            session,
            clock=clock,
            channel="smtp",
            recipient=person.email,
            payload=message,
            idempotency_key=f"cadence:{incident.ref}:{due.isoformat()}:{person.id}",
            topic=ALERT_TOPIC,
            reference=incident.ref,
        )
    return [p.email for p in people]


def misses(session: Session, *, ref: str) -> list[CadenceMiss]:
    """The recorded misses of one incident, oldest first, each with the update that ended
    the wait (the first public update posted after the due time), if any yet."""
    incident = changes.find(session, ref)
    entries = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident.id, TimelineEntry.kind == OVERDUE_KIND)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    ).all()
    posted = sorted(
        as_utc(at)
        for at in session.scalars(
            select(PublicUpdate.posted_at).where(PublicUpdate.incident_id == incident.id)
        )
    )
    result: list[CadenceMiss] = []
    for entry in entries:
        after = entry.after or {}
        due = datetime.fromisoformat(str(after["due_at"]))
        late = next((at for at in posted if at > due), None)
        result.append(
            CadenceMiss(
                due_at=due,
                recorded_at=as_utc(entry.at),
                severity=Severity(str(after.get("severity", incident.severity))),
                first_update=bool(after.get("first_update", False)),
                posted_at=late,
                minutes_late=int((late - due).total_seconds() // 60) if late else None,
            )
        )
    return result
