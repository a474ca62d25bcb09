"""Text messages through a generic HTTP SMS gateway.

Each message is one JSON POST to `FIRSTWORD_SMS_GATEWAY_URL`:

    {"to": "+4915112345678", "text": "...", "sender": "<FIRSTWORD_SMS_SENDER_ID>",
     "reference": "<outbox idempotency key>"}

with `Authorization: Bearer <FIRSTWORD_SMS_GATEWAY_TOKEN>` (when set) and `Idempotency-Key`,
the same on every attempt, so a gateway that de-duplicates drops a repeat after a crash. Most
providers' HTTP APIs take this shape directly or through a few lines of glue.

Outcomes as for webhooks: 2xx delivered (the gateway accepted it; handset delivery reports
are the gateway's business); 408, 425, 429, 5xx, timeouts and connection errors transient
(never sooner than Retry-After); any other status, a redirect, a missing gateway or a
malformed message permanent. Texts are capped at 612 characters (four concatenated GSM-7
segments); splitting and encoding choices are the gateway's.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import httpx

from firstword import __version__
from firstword.core.channels.base import DeliveryResult, OutboundMessage, Outcome
from firstword.core.channels.webhook import TRANSIENT_STATUSES, retry_after_seconds
from firstword.core.settings import Settings

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_TEXT_CHARS = 612
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_ERROR_BODY_CHARS = 300


def _printable(data: bytes) -> str:
    text = data[:_ERROR_BODY_CHARS].decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


def sms_problem(recipient: str, payload: dict[str, Any]) -> str | None:
    """Why this message can never be sent (None when it can)."""
    if not E164.match(recipient):
        return f"recipient {recipient!r} is not an E.164 phone number (+<country><number>)"
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        return "payload.text is missing"
    if len(text) > MAX_TEXT_CHARS:
        return (
            f"payload.text has {len(text)} characters; at most {MAX_TEXT_CHARS} "
            "(4 SMS segments) are sent"
        )
    return None


class SmsChannel:
    """POSTs `{"text"}` payloads for one E.164 recipient to the configured SMS gateway."""

    name = "sms"

    def __init__(
        self, *, settings: Settings, secret_key: str = "", timeout: httpx.Timeout = TIMEOUT
    ) -> None:
        self.settings = settings
        self.timeout = timeout
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
        url = self.settings.sms_gateway_url
        if not url:
            return DeliveryResult(
                Outcome.PERMANENT, "no SMS gateway configured (FIRSTWORD_SMS_GATEWAY_URL)"
            )
        problem = sms_problem(message.recipient, message.payload)
        if problem:
            return DeliveryResult(Outcome.PERMANENT, f"refused: {problem}")
        headers = {
            "User-Agent": f"firstword/{__version__}",
            "Idempotency-Key": message.idempotency_key,
        }
        if self.settings.sms_gateway_token:
            headers["Authorization"] = f"Bearer {self.settings.sms_gateway_token}"
        document = {
            "to": message.recipient,
            "text": message.payload["text"],
            "sender": self.settings.sms_sender_id,
            "reference": message.idempotency_key,
        }
        try:
            response = self._http().post(url, json=document, headers=headers)
        except httpx.UnsupportedProtocol as exc:
            return DeliveryResult(Outcome.PERMANENT, f"refused: gateway URL: {exc}")
        except httpx.InvalidURL as exc:
            return DeliveryResult(Outcome.PERMANENT, f"refused: invalid gateway URL: {exc}")
        except httpx.TimeoutException as exc:
            return DeliveryResult(Outcome.TRANSIENT, f"gateway timed out: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return DeliveryResult(
                Outcome.TRANSIENT, f"cannot reach SMS gateway: {type(exc).__name__}: {exc}"[:2000]
            )
        return _classify(response)


def _provider_id(response: httpx.Response) -> str | None:
    """The gateway's message id, from a JSON `id`/`message_id` field or X-Request-Id."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("id", "message_id", "messageId"):
            value = body.get(key)
            if isinstance(value, str | int) and str(value):
                return str(value)[:200]
    request_id = response.headers.get("X-Request-Id")
    return str(request_id)[:200] if request_id else None


def _classify(response: httpx.Response) -> DeliveryResult:
    status = response.status_code
    if 200 <= status < 300:
        return DeliveryResult(
            Outcome.DELIVERED, f"HTTP {status} from SMS gateway", provider_id=_provider_id(response)
        )
    detail = f"SMS gateway HTTP {status} {response.reason_phrase}: {_printable(response.content)}"
    extra: dict[str, Any] = {"status": status}
    if status in TRANSIENT_STATUSES or 500 <= status < 600:
        delay = retry_after_seconds(response.headers.get("Retry-After"))
        if delay is not None:
            extra["retry_after_seconds"] = delay
            detail += f" (Retry-After {delay:.0f}s)"
        return DeliveryResult(Outcome.TRANSIENT, detail.strip()[:2000], extra=extra)
    if 300 <= status < 400:
        return DeliveryResult(
            Outcome.PERMANENT,
            f"SMS gateway HTTP {status} redirect not followed; configure the final URL",
            extra=extra,
        )
    return DeliveryResult(Outcome.PERMANENT, detail.strip()[:2000], extra=extra)
