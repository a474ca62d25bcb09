"""Signed webhooks: a JSON POST to an http(s) URL.

Every request carries
  Idempotency-Key: <the outbox key>           the same on every attempt; receivers de-duplicate
  X-Firstword-Timestamp: <unix seconds>
  X-Firstword-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
(the scheme Stripe uses). The secret is the subscriber's own (`payload["secret"]`, never sent)
or else the installation's secret key. Receivers check it with `verify_signature`, rejecting
stale timestamps to stop replays.

Only the URL scheme is checked here. Targets chosen by the public (status-page subscribers)
must additionally be restricted to public addresses by the code that accepts them (SSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from firstword import __version__
from firstword.core.channels.base import DeliveryResult, OutboundMessage, Outcome
from firstword.core.settings import Settings

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
SIGNATURE_HEADER = "X-Firstword-Signature"
TIMESTAMP_HEADER = "X-Firstword-Timestamp"
TRANSIENT_STATUSES = frozenset({408, 425, 429})
_ERROR_BODY_BYTES = 300
_READ_LIMIT_BYTES = 64 * 1024


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """True when `header` is a valid signature of `body` with `secret`, made within
    `tolerance_seconds` of `now` (unix seconds; default the current time). Several `v1=`
    values are allowed (a sender rotating secrets); any one matching is enough."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def request_body(payload: dict[str, Any]) -> bytes:
    """The bytes POSTed: `payload["body"]` if present, else the payload without its secret.
    Canonical JSON, so every attempt sends identical bytes."""
    document = (
        payload["body"]
        if "body" in payload
        else {k: v for k, v in payload.items() if k != "secret"}
    )
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _printable(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


class WebhookChannel:
    """POSTs the payload as signed JSON to the recipient URL."""

    name = "webhook"

    def __init__(
        self, *, settings: Settings, secret_key: str, timeout: httpx.Timeout = TIMEOUT
    ) -> None:
        self.settings = settings
        self.secret_key = secret_key
        self.timeout = timeout
        # One pooled client per channel: building one costs tens of milliseconds (TLS
        # context), more than a typical webhook round trip.
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def send(self, message: OutboundMessage) -> DeliveryResult:
        url = message.recipient
        problem = _url_problem(url)
        if problem:
            return DeliveryResult(Outcome.PERMANENT, f"refused: {problem}")
        secret = message.payload.get("secret") or self.secret_key
        if not isinstance(secret, str) or not secret:
            return DeliveryResult(Outcome.PERMANENT, "refused: no signing secret")
        body = request_body(message.payload)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"firstword/{__version__}",
            "Idempotency-Key": message.idempotency_key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        try:
            client = self._http()
            request = client.build_request("POST", url, content=body, headers=headers)
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                return _classify(response)
            finally:
                response.close()
        except httpx.UnsupportedProtocol as exc:
            return DeliveryResult(Outcome.PERMANENT, f"refused: {exc}")
        except httpx.InvalidURL as exc:
            return DeliveryResult(Outcome.PERMANENT, f"refused: invalid URL: {exc}")
        except httpx.TimeoutException as exc:
            return DeliveryResult(Outcome.TRANSIENT, f"timed out: {type(exc).__name__}")
        except httpx.HTTPError as exc:  # connection refused/reset, protocol errors
            return DeliveryResult(
                Outcome.TRANSIENT, f"cannot reach receiver: {type(exc).__name__}: {exc}"[:2000]
            )


def _url_problem(url: str) -> str | None:
    if any(ch in url for ch in "\r\n\x00 "):
        return "URL contains whitespace or control characters"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"invalid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"only http and https webhook URLs are allowed, not {parts.scheme or 'none'!r}"
    if not parts.hostname:
        return "URL has no host"
    return None


def _read_some(response: httpx.Response, limit: int) -> bytes:
    """Up to about `limit` bytes of the body: enough to show an error, and small replies are
    read to the end so the connection can be reused; a huge reply is cut off."""
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > limit:
                break
    except httpx.HTTPError:
        pass  # the status line decides; a body cut short changes nothing
    return data


def _classify(response: httpx.Response) -> DeliveryResult:
    status = response.status_code
    snippet = _read_some(response, _READ_LIMIT_BYTES)[:_ERROR_BODY_BYTES]
    if 200 <= status < 300:
        return DeliveryResult(
            Outcome.DELIVERED, f"HTTP {status}", provider_id=response.headers.get("X-Request-Id")
        )
    detail = f"HTTP {status} {response.reason_phrase}: {_printable(snippet)}"
    if status in TRANSIENT_STATUSES or 500 <= status < 600:
        extra: dict[str, Any] = {"status": status}
        delay = retry_after_seconds(response.headers.get("Retry-After"))
        if delay is not None:
            extra["retry_after_seconds"] = delay
            detail += f" (Retry-After {delay:.0f}s)"
        return DeliveryResult(Outcome.TRANSIENT, detail.strip()[:2000], extra=extra)
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        return DeliveryResult(
            Outcome.PERMANENT,
            f"HTTP {status} redirect to {location!r} not followed; configure the final URL",
            extra={"status": status},
        )
    return DeliveryResult(Outcome.PERMANENT, detail.strip()[:2000], extra={"status": status})
