"""Reading console forms and running the service call they ask for (used by pages.py).

A form post either succeeds (the page redirects back) or comes back with errors keyed by
field, so the page can re-render with each message next to its field and the input kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from firstword.core.errors import FirstwordError, InvalidInput

FORM_ERROR = "_form"  # key for an error that belongs to no single field


async def read_form(request: Request) -> FormData:
    """The submitted form (Starlette caches it, so the CSRF check may have read it already)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]
RefPath = Annotated[str, Path(max_length=30, description="Incident reference")]
DoneQuery = Annotated[str | None, Query(max_length=30)]  # which form just succeeded


def back(path: str, done: str, anchor: str = "") -> RedirectResponse:
    """The redirect after a successful post (Post/Redirect/Get), naming what was done."""
    return RedirectResponse(f"{path}?done={done}{'#' + anchor if anchor else ''}", 303)


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def texts(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def fields(form: FormData, *names: str) -> dict[str, str]:
    return {name: text(form, name) for name in names}


def prefixed(form: FormData, prefix: str) -> dict[str, str]:
    """Non-empty fields named `<prefix><key>`, by key (e.g. `component.website`)."""
    return {
        name.removeprefix(prefix): value
        for name, value in form.multi_items()
        if name.startswith(prefix) and isinstance(value, str) and value
    }


def changed_statuses(form: FormData) -> dict[str, str]:
    """Component statuses chosen in a form (`component.KEY`), only where they differ from the
    status the form showed (`was.KEY`), so a form sent untouched records nothing."""
    return {
        key: value
        for key, value in prefixed(form, "component.").items()
        if value != text(form, f"was.{key}")
    }


def utc_time(field: str, value: str) -> datetime | None:
    """A `datetime-local` input, read as UTC (the console shows every time in UTC)."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, "not a date and time (YYYY-MM-DD HH:MM, UTC)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic errors by top-level field; deeper parts of the location go in the message."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        field = loc[0] if loc else FORM_ERROR
        message = err.get("msg", "invalid")
        if len(loc) > 1:
            message = f"{'.'.join(loc[1:])}: {message}"
        errors[field] = f"{errors[field]}; {message}" if field in errors else message
    return errors


def run(session: Session, action: Callable[[], object]) -> tuple[dict[str, str], int]:
    """Run one form's service call in a savepoint. On error nothing it did is kept (the
    request's transaction still commits, so the page can be re-rendered), and the errors by
    field come back with the status code for the re-rendered page; `({}, 200)` on success."""
    try:
        with session.begin_nested():
            action()
    except ValidationError as exc:
        return validation_errors(exc), 422
    except InvalidInput as exc:
        field, _, rest = exc.field.partition(".")
        return {field: f"{rest}: {exc.reason}" if rest else exc.reason}, 422
    except FirstwordError as exc:
        return {FORM_ERROR: exc.message}, exc.status_code
    return {}, 200
