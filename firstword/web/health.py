"""Liveness and readiness probes (public, reveal nothing but up/down)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from firstword.web.deps import ContextDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None, summary="Readiness: the database answers")
def readyz(context: ContextDep) -> JSONResponse | dict[str, str]:
    # A raw DBAPI connection runs `SELECT 1` without SQLAlchemy's BEGIN, which on SQLite is
    # BEGIN IMMEDIATE: a probe must not queue behind (or block) writers for the write lock.
    try:
        raw = context.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
        finally:
            raw.close()
    except Exception:  # noqa: BLE001 - any database failure means "not ready"
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return {"status": "ready"}
