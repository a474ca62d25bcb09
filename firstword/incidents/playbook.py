"""Playbooks as data: one YAML file per playbook, shipped in incidents/playbooks/ and added or
overridden (same key) by users in their own directory."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from firstword.core.errors import InvalidInput
from firstword.incidents import datafiles
from firstword.incidents.schemas import PlaybookRead, PlaybookTaskRead
from firstword.incidents.vocabulary import IncidentKind, IncidentRole

SHIPPED_DIR = Path(__file__).resolve().parent / "playbooks"

# Weeks, days, hours, minutes, seconds. Years and months are refused: their length varies.
_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)
MAX_DUE_AFTER = timedelta(days=366)


def parse_due_after(value: Any) -> timedelta:
    """An ISO-8601 duration (PT30M, PT4H, P3D, P1DT12H) or a whole number of minutes."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError("give an ISO-8601 duration such as PT30M, or minutes as a number")
    elif isinstance(value, int):
        result = timedelta(minutes=value)
    elif isinstance(value, str):
        match = _ISO_DURATION.match(value.strip().upper())
        if not match:
            raise ValueError(
                f"{value!r} is not an ISO-8601 duration such as PT30M, PT4H or P3D "
                "(years and months are not allowed)"
            )
        parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        result = timedelta(
            weeks=parts["w"],
            days=parts["d"],
            hours=parts["h"],
            minutes=parts["m"],
            seconds=parts["s"],
        )
    else:
        raise ValueError("give an ISO-8601 duration such as PT30M, or minutes as a number")
    if result < timedelta(0):
        raise ValueError("must not be negative")
    if result > MAX_DUE_AFTER:
        raise ValueError("must be at most a year")
    return result


DueAfter = Annotated[timedelta, BeforeValidator(parse_due_after)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class PlaybookTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    owner_role: IncidentRole
    due_after: DueAfter
    description: Text = ""


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: IncidentKind
    description: Text = ""
    default: bool = False  # opened automatically for incidents of `kind`
    tasks: list[PlaybookTask] = Field(min_length=1, max_length=200)


@dataclass(frozen=True)
class LoadedPlaybook:
    playbook: Playbook
    source: str  # "shipped" | "user"
    path: Path

    def read(self) -> PlaybookRead:
        p = self.playbook
        return PlaybookRead(
            key=p.key,
            name=p.name,
            kind=p.kind,
            description=p.description,
            default=p.default,
            source=self.source,
            path=str(self.path),
            tasks=[
                PlaybookTaskRead(
                    title=t.title,
                    owner_role=t.owner_role,
                    due_after_seconds=int(t.due_after.total_seconds()),
                    description=t.description,
                )
                for t in p.tasks
            ],
        )


def load_playbook_file(path: Path) -> Playbook:
    """Load and validate one playbook file; errors name `<file>:<line>`."""
    return datafiles.load(path, Playbook)


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.suffix in (".yaml", ".yml") and not p.name.startswith(".")
    )


@dataclass
class Library:
    """Every playbook by key, after user overrides; `problems` holds files that failed to load
    when loading leniently."""

    by_key: dict[str, LoadedPlaybook]
    problems: list[InvalidInput]

    def default_for(self, kind: IncidentKind) -> LoadedPlaybook | None:
        candidates = [
            lp for lp in self.by_key.values() if lp.playbook.kind == kind and lp.playbook.default
        ]
        # A user's default for a kind wins over the shipped one; ties go to the first key.
        candidates.sort(key=lambda lp: (lp.source != "user", lp.playbook.key))
        return candidates[0] if candidates else None


def load_library(playbook_dirs: Sequence[Path] = (), *, strict: bool = True) -> Library:
    """Shipped playbooks, then each user directory in order (a later key overrides an earlier
    one). Strict: the first broken file raises. Lenient: broken files are skipped and
    reported in `problems` (opening an incident must not fail because of someone's typo)."""
    by_key: dict[str, LoadedPlaybook] = {}
    problems: list[InvalidInput] = []
    layers = [(SHIPPED_DIR, "shipped")] + [(Path(d), "user") for d in playbook_dirs]
    for directory, source in layers:
        seen_here: dict[str, Path] = {}
        for path in _files(directory):
            try:
                playbook = load_playbook_file(path)
                if playbook.key in seen_here:
                    other = seen_here[playbook.key].name
                    raise InvalidInput(
                        f"{path.name}:{_key_line(path)}",
                        f"playbook key {playbook.key!r} is also used by {other}",
                    )
            except InvalidInput as exc:
                if strict:
                    raise
                problems.append(exc)
                continue
            seen_here[playbook.key] = path
            by_key[playbook.key] = LoadedPlaybook(playbook, source, path)
    return Library(by_key, problems)


def _key_line(path: Path) -> int:
    for number, line in enumerate(datafiles.read_text(path).splitlines(), start=1):
        if line.startswith("key:"):
            return number
    return 1


def list_playbooks(playbook_dirs: Sequence[Path] = ()) -> list[PlaybookRead]:
    """Shipped and user playbooks (a user file overrides a shipped one with the same key),
    by kind then key. A malformed user file raises InvalidInput naming file and line."""
    library = load_library(playbook_dirs, strict=True)
    loaded = sorted(
        library.by_key.values(),
        key=lambda lp: (list(IncidentKind).index(lp.playbook.kind), lp.playbook.key),
    )
    return [lp.read() for lp in loaded]
