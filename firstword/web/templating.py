"""Jinja2 for the console and public pages: one environment over every domain's templates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

PACKAGE_DIR = Path(__file__).resolve().parent.parent


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


def build_templates() -> Jinja2Templates:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in template_dirs()]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dt"] = _fmt_dt
    env.filters["duration"] = _fmt_duration
    return Jinja2Templates(env=env)


templates = build_templates()


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Any:
    """Render a page with the common variables (actor, CSRF token, retailer name)."""
    app_context = request.app.state.context
    base = {
        "actor": getattr(request.state, "actor", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "retailer_name": app_context.settings.retailer_name,
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)
