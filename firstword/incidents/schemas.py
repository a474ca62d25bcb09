"""Pydantic shapes in and out of the incidents service (also the API's contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from firstword.incidents.vocabulary import (
    ComponentStatus,
    DataCategory,
    IncidentKind,
    IncidentRole,
    IncidentState,
    Severity,
)

T = TypeVar("T")

MAX_TITLE = 200
MAX_TEXT = 20_000


def _no_control_chars(value: str) -> str:
    bad = [c for c in value if ord(c) < 32 and c not in "\n\r\t"]
    if bad:
        raise ValueError("contains control characters")
    return value


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=MAX_TITLE),
    AfterValidator(_no_control_chars),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_TEXT),
    AfterValidator(_no_control_chars),
]
RequiredText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
    AfterValidator(_no_control_chars),
]
ComponentKey = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentCreate(_In):
    title: Title
    kind: IncidentKind
    severity: Severity
    summary: LongText = ""
    customer_advice: LongText = ""
    components: dict[ComponentKey, ComponentStatus] = Field(default_factory=dict)
    data_categories: list[DataCategory] = Field(default_factory=list)
    detected_at: datetime | None = None  # default: now
    playbook: str | None = None  # default: the playbook for the kind, if any


class IncidentEdit(_In):
    """Fields an incident commander may change; only those given are applied."""

    title: Title | None = None
    severity: Severity | None = None
    summary: LongText | None = None
    customer_advice: LongText | None = None
    expected_version: int | None = None  # refuse the edit if someone changed it meanwhile


class StateChange(_In):
    state: IncidentState
    note: LongText = ""


class ComponentStatusChange(_In):
    components: dict[ComponentKey, ComponentStatus]


class DataCategoriesChange(_In):
    add: list[DataCategory] = Field(default_factory=list)
    remove: list[DataCategory] = Field(default_factory=list)


class UpdatePost(_In):
    """A public update. Optionally moves the state and component statuses in the same step."""

    body: RequiredText
    state: IncidentState | None = None
    components: dict[ComponentKey, ComponentStatus] = Field(default_factory=dict)
    # Promise the next update in this many minutes instead of the severity's cadence (say,
    # overnight); the promise is shown on the page and holds until the next update.
    next_update_in_minutes: int | None = Field(default=None, ge=5, le=1440)


class NoteAdd(_In):
    body: RequiredText


class RoleAssign(_In):
    role: IncidentRole
    user_id: int


class TaskAdd(_In):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    description: LongText = ""
    owner_role: IncidentRole
    due_at: datetime | None = None
    assignee_user_id: int | None = None


class ClockMark(_In):
    event: Annotated[str, StringConstraints(pattern="^(customers_notified|contained)$")]
    at: datetime | None = None


class ComponentIn(_In):
    key: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    group: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    description: LongText = ""
    position: int = 0


# --- out ------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ComponentRead(_Out):
    key: str
    name: str
    group: str
    description: str
    position: int
    status: ComponentStatus
    status_changed_at: datetime | None
    is_active: bool


class AffectedComponent(_Out):
    key: str
    name: str
    group: str
    status: ComponentStatus


class RoleAssignmentRead(_Out):
    role: IncidentRole
    user_id: int
    user_name: str
    assigned_at: datetime


class TaskRead(_Out):
    id: int
    title: str
    description: str
    owner_role: str
    assignee_user_id: int | None
    due_at: datetime | None
    done_at: datetime | None
    done_by: str | None
    source: str
    overdue: bool = False


class UpdateRead(_Out):
    id: int
    state: IncidentState
    body: str
    posted_at: datetime
    posted_by: str
    component_statuses: dict[str, Any]


class NoteRead(_Out):
    id: int
    body: str
    created_at: datetime
    author: str


class TransparencyClock(BaseModel):
    detected_at: datetime
    acknowledged_at: datetime | None
    customers_notified_at: datetime | None
    contained_at: datetime | None
    resolved_at: datetime | None
    time_to_acknowledge_seconds: float | None  # None while not yet acknowledged
    time_to_notify_seconds: float | None
    time_since_last_public_update_seconds: float | None
    time_since_detection_seconds: float  # up to resolution, or now while open


class IncidentSummary(_Out):
    ref: str
    title: str
    kind: IncidentKind
    severity: Severity
    state: IncidentState
    created_at: datetime
    updated_at: datetime
    detected_at: datetime
    last_public_update_at: datetime | None = None
    next_update_promised_at: datetime | None = None
    resolved_at: datetime | None


class IncidentRead(IncidentSummary):
    summary: str
    customer_advice: str
    playbook: str | None
    opened_by: str
    version: int
    components: list[AffectedComponent]
    data_categories: list[DataCategory]
    roles: list[RoleAssignmentRead]
    tasks: list[TaskRead]
    updates: list[UpdateRead]
    notes: list[NoteRead]
    clock: TransparencyClock


class StatusInterval(BaseModel):
    """A stretch of time during which one incident gave one component a non-operational
    status (for uptime history). `end` is None while it lasts."""

    incident_ref: str
    status: ComponentStatus
    start: datetime
    end: datetime | None


class TimelineEntryRead(_Out):
    id: int
    at: datetime
    actor: str
    kind: str
    summary: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    public: bool


class Page(BaseModel, Generic[T]):
    """A page of results. `next_cursor` is passed back as `cursor` for the next page."""

    items: list[T]
    next_cursor: str | None = None
    total: int


class PlaybookTaskRead(BaseModel):
    title: str
    owner_role: IncidentRole
    due_after_seconds: int  # due this long after detection
    description: str


class PlaybookRead(BaseModel):
    """A playbook as loaded: shipped with firstword, or a user's file (which overrides a
    shipped playbook with the same key)."""

    key: str
    name: str
    kind: IncidentKind
    description: str
    default: bool  # opened automatically for incidents of its kind
    source: str  # "shipped" | "user"
    path: str
    tasks: list[PlaybookTaskRead]


# --- the update cadence (cadence.py) -----------------------------------------------------


class CadenceStatus(BaseModel):
    """Where an incident stands against its promised update cadence."""

    ref: str
    severity: Severity
    state: IncidentState
    is_open: bool
    interval_minutes: int  # the severity's routine interval between public updates
    first_update_minutes: int  # the first public word is due this long after detection
    awaiting_first_update: bool  # open and no public update yet
    last_public_update_at: datetime | None
    next_update_due: datetime | None  # None once resolved
    overdue: bool
    minutes_overdue: int  # whole minutes past the due time (0 when not overdue)
    minutes_until_due: int | None  # whole minutes left, rounded up; None if overdue or closed


class OverdueUpdate(BaseModel):
    """An open incident whose public update is overdue, as one overdue check found it."""

    ref: str
    title: str
    severity: Severity
    due_at: datetime
    minutes_overdue: int
    newly_recorded: bool  # this check recorded the miss (timeline, audit, e-mail alerts)
    alerted: list[str]  # e-mail addresses this check alerted (empty when already recorded)


class CadenceMiss(BaseModel):
    """A recorded miss, for the transparency scorecard."""

    due_at: datetime
    recorded_at: datetime
    severity: Severity
    first_update: bool  # the first public word was late (not a routine update)
    posted_at: datetime | None  # the update that ended the wait; None while still waiting
    minutes_late: int | None
