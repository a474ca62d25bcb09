"""Jinja2 for the console and public pages: one environment over every domain's templates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from firstword.core.auth.roles import Role

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE_DIR / "web" / "static"


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    roles: frozenset[Role] = frozenset()  # empty: every signed-in staff member sees it


# The console's main navigation, in order. A part that adds console pages appends its entry
# here (one line); `roles` hides the entry from people who could not open the page anyway.
CONSOLE_NAV: list[NavItem] = [
    NavItem("Incidents", "/console/incidents"),
    NavItem("Components", "/console/components"),
    NavItem("Status page", "/console/statuspage"),
]


def template_dirs() -> list[Path]:
    """web/templates first (base layout), then each domain's own templates/ folder."""
    dirs = [PACKAGE_DIR / "web" / "templates"]
    dirs += sorted(p for p in PACKAGE_DIR.glob("*/templates") if p.parent.name != "web")
    return [d for d in dirs if d.is_dir()]


def _fmt_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return value.strftime(fmt) if value else "—"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def _humanise(value: object) -> str:
    """`degraded_performance` -> `Degraded performance` (enum values for people)."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _sentence(value: object) -> str:
    """Service messages are lower-case fragments (they also go into JSON); pages show them
    as sentences."""
    text = str(value).strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


@cache
def _asset_version(name: str) -> str:
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"


def static_url(name: str) -> str:
    """/static/<name>?v=<content hash>: browsers may cache assets and still see new ones."""
    return f"/static/{name}?v={_asset_version(name)}"


def build_templates() -> Jinja2Templates:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in template_dirs()]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dt"] = _fmt_dt
    env.filters["duration"] = _fmt_duration
    env.filters["humanise"] = _humanise
    env.filters["sentence"] = _sentence
    env.globals["static_url"] = static_url
    return Jinja2Templates(env=env)


templates = build_templates()


def nav_for(actor: Any, path: str) -> list[dict[str, Any]]:
    """The navigation entries `actor` may see, marking the one `path` is under."""
    if actor is None:
        return []
    return [
        {
            "label": item.label,
            "href": item.href,
            "current": path == item.href or path.startswith(item.href + "/"),
        }
        for item in CONSOLE_NAV
        if not item.roles or actor.has_any(item.roles)
    ]


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Any:
    """Render a page with the common variables (actor, CSRF token, retailer name, nav)."""
    app_context = request.app.state.context
    actor = context.get("actor", getattr(request.state, "actor", None))
    base = {
        "actor": actor,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "retailer_name": app_context.settings.retailer_name,
        "nav": nav_for(actor, request.url.path),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)
