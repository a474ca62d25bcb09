"""Public update templates per incident kind and language, and filling them in from an
incident (the console's compose page; see console_pages.py).

Shipped templates live in statuspage/update_templates/<kind>.yaml, one file per incident
kind, each template with its text in every page language (English and German). A
retailer's own files in DATA_DIR/update_templates/*.yaml have the same shape: an entry
whose key the kind already has replaces the label, suggested state and the languages it
gives (`retired: true` hides it); a new key adds a template. A broken user file is skipped
and named on the compose page; the shipped templates stay available.

Placeholders, filled from the incident when a template is chosen (staff edit the result
before publishing):
    {components}       what is affected, in words and in the reader's language
    {next_update}      when the next update is due if this one is published now (the
                       severity's cadence), as the reader's locale writes times
    {customer_advice}  the incident's "what you can do" (a paragraph left empty is dropped)
    {brand}, {title}, {status_page_url}
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from babel.lists import format_list
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from firstword.core.errors import InvalidInput, NotFound
from firstword.core.settings import Settings
from firstword.incidents import service as incidents
from firstword.incidents.schemas import AffectedComponent, IncidentRead
from firstword.incidents.vocabulary import ComponentStatus, IncidentKind, IncidentState
from firstword.statuspage import i18n

SHIPPED_DIR = Path(__file__).resolve().parent / "update_templates"
USER_DIR_NAME = "update_templates"
PLACEHOLDERS = ("components", "next_update", "customer_advice", "brand", "title", "status_page_url")
MAX_FILE_BYTES = 500_000
MAX_TEXT = 5000
SOME_SERVICES = {"en": "some of our services", "de": "einige unserer Dienste"}

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]


class TemplateEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Label | None = None
    state: IncidentState | None = None  # the state the update suggests moving to
    text: dict[str, Text] = Field(default_factory=dict)  # language -> text
    retired: bool = False


class TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IncidentKind
    templates: list[TemplateEntry] = Field(max_length=200)


@dataclass(frozen=True)
class UpdateTemplate:
    kind: IncidentKind
    key: str
    label: str
    state: IncidentState | None
    texts: Mapping[str, str]  # language -> text
    source: str  # "shipped" or the user file that last changed it


@dataclass(frozen=True)
class TemplateLibrary:
    templates: tuple[UpdateTemplate, ...]
    problems: tuple[str, ...]  # user files skipped, each "file:line: reason"

    def for_kind(self, kind: IncidentKind) -> list[UpdateTemplate]:
        return [t for t in self.templates if t.kind == kind]

    def get(self, kind: IncidentKind, key: str) -> UpdateTemplate:
        for template in self.for_kind(kind):
            if template.key == key:
                return template
        known = ", ".join(t.key for t in self.for_kind(kind)) or "none"
        raise NotFound(f"no update template {key!r} for {kind.value}; known: {known}")


# --- loading -------------------------------------------------------------------------------


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int:
    """1-based line of the deepest YAML node along `loc`."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if getattr(k, "value", None) == str(part)]
            if not match:
                return line
            node = match[0]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def placeholder_problem(text: str) -> str | None:
    """Why `text` is not a usable template (unknown placeholder, stray brace), or None."""
    try:
        for _literal, name, spec, conversion in string.Formatter().parse(text):
            if name is None:
                continue
            if name not in PLACEHOLDERS:
                return f"unknown placeholder {{{name}}}; known: " + ", ".join(
                    f"{{{p}}}" for p in PLACEHOLDERS
                )
            if spec or conversion:
                return f"placeholder {{{name}}} takes no format or conversion"
    except ValueError as exc:
        return f"{exc} (write {{{{ and }}}} for literal braces)"
    return None


def parse_file(text: str, filename: str) -> TemplateFile:
    """Validate one template file; InvalidInput("<file>:<line>", reason) on any problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise InvalidInput(f"{filename}:{line}", f"malformed YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{filename}:1", f"malformed YAML: {exc}") from None
    if data is None:
        raise InvalidInput(f"{filename}:1", "the file is empty")
    try:
        parsed = TemplateFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = f"{where}: {first['msg']}" if where else str(first["msg"])
        raise InvalidInput(f"{filename}:{_line_of(node, first['loc'])}", reason) from None
    seen: set[str] = set()
    for index, entry in enumerate(parsed.templates):
        at: list[int | str] = ["templates", index]
        if entry.key in seen:
            line = _line_of(node, at)
            raise InvalidInput(f"{filename}:{line}", f"template {entry.key!r} is listed twice")
        seen.add(entry.key)
        for lang, body in entry.text.items():
            line = _line_of(node, [*at, "text", lang])
            if lang not in i18n.LANGUAGES:
                known = ", ".join(i18n.LANGUAGES)
                raise InvalidInput(
                    f"{filename}:{line}", f"unknown language {lang!r}; known: {known}"
                )
            problem = placeholder_problem(body)
            if problem:
                raise InvalidInput(f"{filename}:{line}", problem)
    return parsed


def read_file(path: Path) -> TemplateFile:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path.name}:1", f"file is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name}:1", "not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput(f"{path.name}:1", f"cannot read: {exc.strerror}") from None
    return parse_file(text, path.name)


def _shipped() -> dict[tuple[IncidentKind, str], UpdateTemplate]:
    found: dict[tuple[IncidentKind, str], UpdateTemplate] = {}
    for path in sorted(SHIPPED_DIR.glob("*.yaml")):
        parsed = read_file(path)
        for entry in parsed.templates:
            missing = [lang for lang in i18n.LANGUAGES if lang not in entry.text]
            if missing or entry.label is None:
                what = f"languages {', '.join(missing)}" if missing else "a label"
                raise InvalidInput(path.name, f"shipped template {entry.key!r} lacks {what}")
            found[(parsed.kind, entry.key)] = UpdateTemplate(
                parsed.kind, entry.key, entry.label, entry.state, dict(entry.text), "shipped"
            )
    return found


def _apply(
    library: dict[tuple[IncidentKind, str], UpdateTemplate], parsed: TemplateFile, path: Path
) -> None:
    for entry in parsed.templates:
        key = (parsed.kind, entry.key)
        current = library.get(key)
        if entry.retired:
            library.pop(key, None)
            continue
        if current is None:
            if not entry.text:
                raise InvalidInput(path.name, f"new template {entry.key!r} has no text")
            library[key] = UpdateTemplate(
                parsed.kind,
                entry.key,
                entry.label or entry.key.replace("_", " ").replace("-", " ").capitalize(),
                entry.state,
                dict(entry.text),
                str(path),
            )
        else:
            library[key] = UpdateTemplate(
                parsed.kind,
                entry.key,
                entry.label or current.label,
                entry.state if "state" in entry.model_fields_set else current.state,
                {**current.texts, **entry.text},
                str(path),
            )


def load_templates(data_dir: Path | None = None) -> TemplateLibrary:
    """The shipped templates with DATA_DIR/update_templates/*.yaml applied (in file-name
    order). Files are small and read on every call, so edits apply at once."""
    library = _shipped()
    problems: list[str] = []
    user_dir = data_dir / USER_DIR_NAME if data_dir is not None else None
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.glob("*.yaml")):
            try:
                staged = dict(library)
                _apply(staged, read_file(path), path)
            except InvalidInput as exc:
                problems.append(f"{exc.field}: {exc.reason} (file skipped)")
                continue
            library = staged
    order = {kind: index for index, kind in enumerate(IncidentKind)}
    templates = sorted(library.values(), key=lambda t: order[t.kind])  # stable: file order
    return TemplateLibrary(tuple(templates), tuple(problems))


# --- filling in ----------------------------------------------------------------------------


def component_names(components: Iterable[AffectedComponent], lang: str) -> list[str]:
    """Component names in `lang` (shipped catalogue names are translated; a retailer's own
    names are shown as written)."""
    gettext = i18n.translations(lang).gettext
    return [gettext(c.name) for c in components]


def in_words(names: Sequence[str], lang: str) -> str:
    """["A", "B", "C"] -> "A, B and C" / "A, B und C"."""
    if not names:
        return SOME_SERVICES.get(lang, SOME_SERVICES["en"])
    return format_list(list(names), locale=i18n.locale_of(lang))


def affected_components(incident: IncidentRead) -> list[AffectedComponent]:
    """The components the update is about: those not operational, or, once everything is
    back (a resolution), all the incident touched."""
    broken = [c for c in incident.components if c.status is not ComponentStatus.OPERATIONAL]
    return broken or list(incident.components)


def when_text(moment: datetime, lang: str, *, now: datetime) -> str:
    """The time alone on the same (UTC) day, else the date and time: "19:30 UTC"."""
    same_day = moment.date() == now.date()
    return i18n.format_clock(moment, lang) if same_day else i18n.format_when(moment, lang)


def next_update_after_publishing(
    incident: IncidentRead,
    *,
    now: datetime,
    policy: incidents.CadencePolicy,
    promise_minutes: int | None = None,
) -> datetime:
    """When the next update is due if one is published at `now`: the promise chosen with it,
    else the severity's cadence."""
    if promise_minutes is not None:
        return now + timedelta(minutes=promise_minutes)
    return now + policy.every(incident.severity)


def placeholder_values(
    incident: IncidentRead,
    *,
    lang: str,
    now: datetime,
    settings: Settings,
    policy: incidents.CadencePolicy,
) -> dict[str, str]:
    due = next_update_after_publishing(incident, now=now, policy=policy)
    return {
        "components": in_words(component_names(affected_components(incident), lang), lang),
        "next_update": when_text(due, lang, now=now),
        "customer_advice": incident.customer_advice.strip(),
        "brand": settings.retailer_name,
        "title": incident.title,
        "status_page_url": settings.public_base_url.rstrip("/") + "/",
    }


def fill(text: str, values: Mapping[str, str]) -> str:
    """The template with its placeholders replaced; a paragraph a placeholder left empty
    (no customer advice yet) is dropped, so no gaps reach the public page."""
    problem = placeholder_problem(text)
    if problem:
        raise InvalidInput("template", problem)
    filled = text.format_map({name: values.get(name, "") for name in PLACEHOLDERS})
    paragraphs = [p.strip() for p in filled.replace("\r\n", "\n").split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


def draft(
    incident: IncidentRead,
    template: UpdateTemplate,
    *,
    lang: str,
    now: datetime,
    settings: Settings,
    policy: incidents.CadencePolicy,
) -> str:
    """The template's text in `lang` (English when it has none in `lang`), filled in."""
    text = template.texts.get(lang) or template.texts.get(i18n.DEFAULT_LANGUAGE)
    if text is None:
        text = next(iter(template.texts.values()))
    values = placeholder_values(incident, lang=lang, now=now, settings=settings, policy=policy)
    return fill(text, values)
