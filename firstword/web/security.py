"""Response security headers and per-client rate limits for public and sign-in routes."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firstword.core.settings import Settings

# No inline scripts or styles anywhere: templates load /static files only (htmx is configured
# through a <meta> tag and hx-* attributes, never through inline JavaScript).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
PRIVATE_PREFIXES = ("/console", "/api/v1")


def add_security_headers(headers: MutableHeaders, path: str, *, hsts: bool) -> None:
    """The headers every response carries (kept where a route set its own)."""
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    if hsts:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if path.startswith(PRIVATE_PREFIXES):
        headers.setdefault("Cache-Control", "no-store")
    elif path.startswith("/static/"):
        headers.setdefault("Cache-Control", "public, max-age=3600")


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, framing, referrer and permissions headers to every response;
    `Cache-Control: no-store` to staff pages and API answers (they carry private data);
    HSTS when the app is served over HTTPS (`hsts=True`, i.e. secure cookies are on).

    Pure ASGI rather than BaseHTTPMiddleware, so streaming responses and context variables
    pass through untouched."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(MutableHeaders(scope=message), path, hsts=self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RateLimited(Exception):
    """Too many requests from one client; `retry_after` is in whole seconds."""

    def __init__(self, bucket: str, retry_after: int) -> None:
        super().__init__(f"rate limit {bucket!r} exceeded; retry after {retry_after}s")
        self.bucket = bucket
        self.retry_after = retry_after


class RateLimiter:
    """Sliding-window limiter kept in process memory: `limit` hits per `window` seconds per
    key. Behind several web processes each keeps its own window, so the effective limit is
    per process (documented in docs/operations.md)."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float | None:
        """Count a hit; None if allowed, else seconds until the client may try again."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._evict(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.0, hits[0] + self.window - now)
            hits.append(now)
            return None

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]
        for key in stale:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:  # still full: drop the oldest half
            for key in list(self._hits)[: self.max_keys // 2]:
                del self._hits[key]


def client_key(request: Request) -> str:
    """The client's address. Behind a reverse proxy, run uvicorn with the proxy in
    --forwarded-allow-ips (`firstword serve` trusts 127.0.0.1) so this is the real client."""
    return request.client.host if request.client else "unknown"


_limiters_lock = threading.Lock()


def limiter_for(request: Request, bucket: str, limit: int) -> RateLimiter:
    """The app's limiter for `bucket`, created on first use (one set per app instance, so
    every test app starts with empty windows)."""
    state = request.app.state
    with _limiters_lock:
        limiters: dict[str, RateLimiter] | None = getattr(state, "rate_limiters", None)
        if limiters is None:
            limiters = state.rate_limiters = {}
        limiter = limiters.get(bucket)
        if limiter is None or limiter.limit != limit:
            limiter = limiters[bucket] = RateLimiter(limit)
        return limiter


def rate_limited(bucket: str, per_minute_setting: str) -> Callable[..., Any]:
    """Dependency for public routes: at most `settings.<per_minute_setting>` requests per
    minute per client address in the named bucket, else 429 with Retry-After.

        @router.get("/status", dependencies=[Depends(rate_limited("public",
                                                 "public_rate_limit_per_minute"))])
    """
    if per_minute_setting not in Settings.model_fields:
        raise ValueError(f"no setting named {per_minute_setting!r}")

    def dependency(request: Request) -> None:
        settings = request.app.state.context.settings
        limit = int(getattr(settings, per_minute_setting))
        wait = limiter_for(request, bucket, limit).hit(client_key(request))
        if wait is not None:
            raise RateLimited(bucket, max(1, math.ceil(wait)))

    dependency.__firstword_rate_limit__ = bucket  # type: ignore[attr-defined]
    dependency.__name__ = dependency.__qualname__ = f"rate_limited_{bucket}"
    return dependency


def rate_limit_of(dependency: Callable[..., Any]) -> str | None:
    """The bucket a rate_limited dependency counts in (None for any other callable)."""
    return getattr(dependency, "__firstword_rate_limit__", None)
