"""Liveness and readiness probes (public, reveal nothing but up/down)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from firstword.web.deps import ContextDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(context: ContextDep) -> JSONResponse | dict[str, str]:
    try:
        with context.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means not ready
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return {"status": "ready"}
