"""\"Is my store affected?\": the retailer's stores (data, editable) and the lookup by store name,
town or postcode against the current status page view.

Shipped example stores live in statuspage/stores.yaml; a stores.yaml of the same shape in the
data directory replaces them entirely (a retailer's real stores should not mix with examples).
A store's status is the worst status of the components it depends on.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from firstword.core.errors import InvalidInput
from firstword.incidents.vocabulary import STATUS_RANK, ComponentStatus
from firstword.statuspage.view import (
    ComponentView,
    IncidentView,
    MaintenanceView,
    StatusView,
    worst,
)

SHIPPED_FILE = Path(__file__).resolve().parent / "stores.yaml"
MAX_FILE_BYTES = 2_000_000
MAX_QUERY = 100
MAX_RESULTS = 10

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Store(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")]
    name: Name
    town: Name
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    components: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]] = (
        Field(min_length=1, max_length=100)
    )


class StoresFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stores: list[Store] = Field(max_length=50_000)


# --- loading ----------------------------------------------------------------------------


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int:
    """1-based line of the deepest YAML node along a Pydantic error location."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part]
            if not match:
                return line
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def parse_stores(text: str, filename: str) -> list[Store]:
    """Validate a stores file. Errors are InvalidInput("<file>:<line>", reason)."""
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
        parsed = StoresFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        reason = f"{where}: {first['msg']}" if where else str(first["msg"])
        raise InvalidInput(f"{filename}:{_line_of(node, first['loc'])}", reason) from None
    seen: set[str] = set()
    for index, store in enumerate(parsed.stores):
        if store.id in seen:
            line = _line_of(node, ["stores", index])
            raise InvalidInput(f"{filename}:{line}", f"store {store.id!r} is listed twice")
        seen.add(store.id)
    return parsed.stores


def read_stores_file(path: Path) -> list[Store]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path.name}:1", f"file is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name}:1", "not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput(f"{path.name}:1", f"cannot read: {exc.strerror}") from None
    return parse_stores(text, path.name)


def user_stores_file(data_dir: Path) -> Path:
    return data_dir / "stores.yaml"


def load_stores(data_dir: Path | None = None) -> list[Store]:
    """DATA_DIR/stores.yaml when it exists, else the shipped example stores."""
    if data_dir is not None:
        user_file = user_stores_file(data_dir)
        if user_file.exists():
            return read_stores_file(user_file)
    return read_stores_file(SHIPPED_FILE)


def unknown_components(stores: Iterable[Store], known: Iterable[str]) -> dict[str, list[str]]:
    """store id -> component keys it names that the catalogue does not have (a typo in the
    stores file would otherwise silently show a store as operational)."""
    catalogue = set(known)
    problems: dict[str, list[str]] = {}
    for store in stores:
        missing = [key for key in store.components if key not in catalogue]
        if missing:
            problems[store.id] = missing
    return problems


# --- matching ---------------------------------------------------------------------------

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def folded(text: str) -> tuple[str, ...]:
    """Search forms of `text`: lower case without accents ("münchen" -> "munchen") and, for
    German umlauts, also transliterated ("muenchen"); punctuation becomes single spaces."""
    lower = unicodedata.normalize("NFKC", text).lower()
    forms = {_strip_marks(lower.replace("ß", "ss")), _strip_marks(lower.translate(_GERMAN))}
    return tuple(sorted(" ".join(_NOT_WORD.sub(" ", form).split()) for form in forms))


def compact_postcode(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def match_score(store: Store, query: str) -> int | None:
    """How well `query` matches `store` (lower is better), None for no match.

    0: the postcode, or the whole town or name; 1: the postcode starts with the query;
    2: the town or a word of the name starts with it; 3: the query appears in the name or
    town. Postcodes match by prefix only ("SW1" finds "SW1A 1AA", never "1AA")."""
    queries = [q for q in folded(query) if q]
    if not queries:
        return None
    best: int | None = None

    def better(score: int) -> None:
        nonlocal best
        best = score if best is None else min(best, score)

    code = compact_postcode(query)
    store_code = compact_postcode(store.postcode)
    if code and store_code == code:
        better(0)
    elif code and len(code) >= 2 and store_code.startswith(code):
        better(1)
    for field in (store.town, store.name):
        for candidate in folded(field):
            for q in queries:
                if candidate == q:
                    better(0)
                elif candidate.startswith(q) or (" " + q) in (" " + candidate):
                    better(2)
                elif q in candidate and len(q) >= 3:
                    better(3)
    return best


def search(stores: Sequence[Store], query: str, limit: int = MAX_RESULTS) -> list[Store]:
    """Stores matching `query`, best first, at most `limit`. Raises InvalidInput("q") for a
    query over MAX_QUERY characters; an empty query finds nothing."""
    if len(query) > MAX_QUERY:
        raise InvalidInput("q", f"at most {MAX_QUERY} characters")
    query = query.strip()
    if not query:
        return []
    scored = []
    for store in stores:
        score = match_score(store, query)
        if score is not None:
            scored.append((score, folded(store.name)[0], store.id, store))
    scored.sort(key=lambda row: row[:3])
    return [row[3] for row in scored[:limit]]


@dataclass(frozen=True)
class StoreStatus:
    """A store with the worst status of its components and what is wrong there."""

    store: Store
    status: ComponentStatus  # the worst of its components (operational when none is known)
    components: list[ComponentView]  # the components it depends on, worst first
    incidents: list[IncidentView]  # unresolved incidents touching any of them
    maintenances: list[MaintenanceView]  # maintenance in progress or upcoming on them


def store_status(store: Store, view: StatusView) -> StoreStatus:
    by_key = {c.key: c for c in view.components}
    mine = [by_key[key] for key in store.components if key in by_key]
    mine.sort(key=lambda c: -STATUS_RANK[c.status])
    keys = set(store.components)
    return StoreStatus(
        store=store,
        status=worst(c.status for c in mine),
        components=mine,
        incidents=[i for i in view.incidents if keys & {c.key for c in i.components}],
        maintenances=[m for m in view.maintenances if keys & {c.key for c in m.components}],
    )


def lookup(query: str, stores: Sequence[Store], view: StatusView) -> list[StoreStatus]:
    """\"Is my store affected?\": the stores matching `query` (name, town or postcode; see
    `search`), at most MAX_RESULTS, each with its status from `view`."""
    return [store_status(store, view) for store in search(stores, query)]


# --- the stores file, read once per change ----------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[float, int] | None, list[Store]]] = {}


def cached_stores(data_dir: Path) -> list[Store]:
    """load_stores, re-read only when the user file appears, changes or goes away."""
    user_file = user_stores_file(data_dir)
    try:
        stat = user_file.stat()
        key: tuple[float, int] | None = (stat.st_mtime, stat.st_size)
    except OSError:
        key = None
    with _cache_lock:
        hit = _cache.get(user_file)
        if hit is not None and hit[0] == key:
            return hit[1]
    stores = load_stores(data_dir)
    with _cache_lock:
        _cache[user_file] = (key, stores)
    return stores
