"""The SMTP channel against real aiosmtpd servers, the webhook channel against a local HTTP
server: what arrives, and how failures are classified."""

from __future__ import annotations

import email
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from firstword.core.channels.base import OutboundMessage, Outcome
from firstword.core.channels.smtp import SmtpChannel, message_id_for
from firstword.core.channels.webhook import (
    WebhookChannel,
    request_body,
    retry_after_seconds,
    sign,
    verify_signature,
)
from firstword.core.ids import sha256_hex
from firstword.core.settings import Settings
from tests.conftest import SmtpSink, free_port

SECRET = "context-secret"


def _settings(tmp_path: Path, port: int = 25) -> Settings:
    return Settings(
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        mail_from="Example Retail <status@shop.example>",
        secret_key=SECRET,
    )


def _mail(
    recipient: str = "Ana Ruiz <ana@example.org>", key: str = "notice:7:ana", **payload: Any
) -> OutboundMessage:
    body = {"subject": "Online ordering is back", "text": "Orders work again.\n"} | payload
    return OutboundMessage(
        id=1, channel="smtp", recipient=recipient, payload=body, idempotency_key=key, attempt=1
    )


def _parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


# --- SMTP ---------------------------------------------------------------------------------


def test_smtp_delivers_an_rfc5322_message_with_a_deterministic_message_id(
    smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    channel = SmtpChannel(settings=_settings(tmp_path, smtp_sink.port), secret_key=SECRET)
    message = _mail(
        html="<p>Orders work <b>again</b>.</p>",
        headers={
            "List-Unsubscribe": "<https://shop.example/u/abc>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    first = channel.send(message)
    second = channel.send(message)  # a repeat after a crash: same key
    assert first.outcome is Outcome.DELIVERED and second.outcome is Outcome.DELIVERED
    expected_id = f"<{sha256_hex('notice:7:ana')[:32]}@shop.example>"
    assert first.provider_id == second.provider_id == expected_id

    received = smtp_sink.received()
    assert len(received) == 2
    assert received[0]["mail_from"] == "status@shop.example"
    assert received[0]["rcpt_tos"] == ["ana@example.org"]
    parsed = [_parse(r["data"]) for r in received]
    assert parsed[0]["Message-ID"] == parsed[1]["Message-ID"] == expected_id
    msg = parsed[0]
    assert msg["From"] == "Example Retail <status@shop.example>"
    assert msg["To"] == "Ana Ruiz <ana@example.org>"
    assert msg["Subject"] == "Online ordering is back"
    assert msg["X-Firstword-Idempotency-Key"] == "notice:7:ana"
    assert msg["List-Unsubscribe"] == "<https://shop.example/u/abc>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    sent_at = email.utils.parsedate_to_datetime(str(msg["Date"]))
    assert abs(sent_at - datetime.now(UTC)) < timedelta(minutes=5)
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content().rstrip() == "Orders work again."
    assert html is not None and "<b>again</b>" in html.get_content()
    assert b"\r\n" in received[0]["data"]


def test_message_id_depends_only_on_the_key() -> None:
    assert message_id_for("k1", "a@x.example") == message_id_for("k1", "Name <b@x.example>")
    assert message_id_for("k1", "a@x.example") != message_id_for("k2", "a@x.example")


@pytest.mark.parametrize(
    ("recipient", "payload", "reason"),
    [
        ("ana@example.org\r\nBcc: victim@example.net", {}, "line break"),
        ("ana@example.org", {"subject": "Hi\r\nBcc: victim@example.net"}, "line break"),
        ("ana@example.org", {"headers": {"X-Note": "a\nBcc: victim@example.net"}}, "line break"),
        ("ana@example.org", {"headers": {"Bcc": "victim@example.net"}}, "cannot be overridden"),
        ("ana@example.org", {"headers": {"Bad Name": "x"}}, "not valid"),
        ("ana@example.org, eve@example.net", {}, "exactly one"),
        ("not-an-address", {}, "not an e-mail address"),
        ("ana@example.org", {"subject": ""}, "subject"),
    ],
)
def test_smtp_refuses_unsafe_or_malformed_messages_permanently(
    smtp_sink: SmtpSink, tmp_path: Path, recipient: str, payload: dict[str, Any], reason: str
) -> None:
    channel = SmtpChannel(settings=_settings(tmp_path, smtp_sink.port), secret_key=SECRET)
    result = channel.send(_mail(recipient=recipient, **payload))
    assert result.outcome is Outcome.PERMANENT
    assert reason in result.detail
    assert smtp_sink.received() == []


class RefusingHandler:
    """An SMTP server that refuses recipients or data with a chosen reply."""

    def __init__(self, rcpt_reply: str | None = None, data_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply

    async def handle_RCPT(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.data_reply or "250 OK"


@pytest.fixture
def refusing_smtp() -> Iterator[Any]:
    from aiosmtpd.controller import Controller

    controllers: list[Any] = []

    def start(**replies: str) -> int:
        port = free_port()
        controller = Controller(RefusingHandler(**replies), hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.mark.parametrize(
    ("replies", "outcome", "shown"),
    [
        ({"rcpt_reply": "550 5.1.1 No such user"}, Outcome.PERMANENT, "550 5.1.1 No such user"),
        ({"rcpt_reply": "451 4.7.1 Greylisted, try later"}, Outcome.TRANSIENT, "451"),
        ({"data_reply": "554 5.7.1 Rejected as spam"}, Outcome.PERMANENT, "554"),
        ({"data_reply": "451 4.3.0 Mail server temporarily rejected"}, Outcome.TRANSIENT, "451"),
    ],
)
def test_smtp_classifies_refusals_by_reply_code(
    refusing_smtp: Any, tmp_path: Path, replies: dict[str, str], outcome: Outcome, shown: str
) -> None:
    port = refusing_smtp(**replies)
    result = SmtpChannel(settings=_settings(tmp_path, port), secret_key=SECRET).send(_mail())
    assert result.outcome is outcome
    assert shown in result.detail


def test_smtp_connection_refused_is_transient(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = SmtpChannel(settings=_settings(tmp_path, port), secret_key=SECRET).send(_mail())
    assert result.outcome is Outcome.TRANSIENT
    assert f"127.0.0.1:{port}" in result.detail


def test_smtp_logs_in_when_configured_and_a_bad_login_is_transient(tmp_path: Path) -> None:
    """Authentication failures are our configuration, not the message: retry, don't drop."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        password = auth_data.password
        password = password if isinstance(password, bytes) else password.encode()
        login = auth_data.login if isinstance(auth_data.login, bytes) else auth_data.login.encode()
        logins.append((login, password))
        return AuthResult(success=password == b"right-password", handled=False)

    port = free_port()
    controller = Controller(
        RefusingHandler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],  # PLAIN only: keep the exchange short
    )
    controller.start()
    try:
        good = _settings(tmp_path, port).model_copy(
            update={"smtp_username": "mailer", "smtp_password": "right-password"}
        )
        bad = good.model_copy(update={"smtp_password": "wrong-password"})
        assert SmtpChannel(settings=good, secret_key=SECRET).send(_mail()).outcome is (
            Outcome.DELIVERED
        )
        refused = SmtpChannel(settings=bad, secret_key=SECRET).send(_mail())
        assert refused.outcome is Outcome.TRANSIENT and "535" in refused.detail
        assert logins == [(b"mailer", b"right-password"), (b"mailer", b"wrong-password")]
    finally:
        controller.stop()


# --- webhooks -----------------------------------------------------------------------------


class Receiver:
    """A local HTTP server answering each POST with the next scripted response."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.responses: list[tuple[int, dict[str, str], bytes]] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                status, headers, content = (
                    receiver.responses.pop(0) if receiver.responses else (200, {}, b"ok")
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def _hook(
    url: str, key: str = "statuspage:INC-2026-0001:3:sub-9", **payload: Any
) -> OutboundMessage:
    return OutboundMessage(
        id=5,
        channel="webhook",
        recipient=url,
        payload=payload or {"body": {"incident": "INC-2026-0001"}},
        idempotency_key=key,
        attempt=1,
    )


def test_webhook_posts_signed_json_with_the_idempotency_key(
    receiver: Receiver, tmp_path: Path
) -> None:
    channel = WebhookChannel(settings=_settings(tmp_path), secret_key=SECRET)
    result = channel.send(_hook(receiver.url, body={"incident": "INC-2026-0001", "n": "é"}))
    assert result.outcome is Outcome.DELIVERED
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["idempotency-key"] == "statuspage:INC-2026-0001:3:sub-9"
    assert headers["content-type"] == "application/json"
    assert json.loads(request["body"]) == {"incident": "INC-2026-0001", "n": "é"}
    signature = headers["x-firstword-signature"]
    assert signature.startswith(f"t={headers['x-firstword-timestamp']},v1=")
    assert verify_signature(SECRET, signature, request["body"])
    assert not verify_signature("other-secret", signature, request["body"])
    assert not verify_signature(SECRET, signature, request["body"] + b" ")


def test_webhook_uses_the_subscribers_secret_and_never_sends_it(
    receiver: Receiver, tmp_path: Path
) -> None:
    channel = WebhookChannel(settings=_settings(tmp_path), secret_key=SECRET)
    payload = {"secret": "subscriber-secret", "event": "incident.updated"}
    assert channel.send(_hook(receiver.url, **payload)).outcome is Outcome.DELIVERED
    [request] = receiver.requests
    assert json.loads(request["body"]) == {"event": "incident.updated"}
    assert b"subscriber-secret" not in request["body"]
    header = request["headers"]["X-Firstword-Signature"]
    assert verify_signature("subscriber-secret", header, request["body"])
    assert not verify_signature(SECRET, header, request["body"])


def test_signature_rejects_stale_and_malformed_headers() -> None:
    body = request_body({"body": {"a": 1}})
    header = sign("s", 1_700_000_000, body)
    assert verify_signature("s", header, body, now=1_700_000_100)
    assert not verify_signature("s", header, body, now=1_700_000_000 + 301)
    assert not verify_signature("s", header, body, tolerance_seconds=10, now=1_700_000_011)
    rotated = f"{header},v1={'0' * 64}"
    assert verify_signature("s", rotated, body, now=1_700_000_000)
    for broken in ("", "v1=abc", "t=abc,v1=abc", header.split(",")[0]):
        assert not verify_signature("s", broken, body, now=1_700_000_000)


@pytest.mark.parametrize(
    ("status", "headers", "outcome"),
    [
        (500, {}, Outcome.TRANSIENT),
        (503, {}, Outcome.TRANSIENT),
        (408, {}, Outcome.TRANSIENT),
        (400, {}, Outcome.PERMANENT),
        (404, {}, Outcome.PERMANENT),
        (410, {}, Outcome.PERMANENT),
        (302, {"Location": "https://elsewhere.example/"}, Outcome.PERMANENT),
    ],
)
def test_webhook_classifies_responses(
    receiver: Receiver, tmp_path: Path, status: int, headers: dict[str, str], outcome: Outcome
) -> None:
    receiver.responses.append((status, headers, b"nope <script>\x00"))
    result = WebhookChannel(settings=_settings(tmp_path), secret_key=SECRET).send(
        _hook(receiver.url)
    )
    assert result.outcome is outcome
    assert f"HTTP {status}" in result.detail
    assert "\x00" not in result.detail
    assert len(receiver.requests) == 1  # a redirect is not followed


def test_webhook_429_carries_retry_after(receiver: Receiver, tmp_path: Path) -> None:
    receiver.responses.append((429, {"Retry-After": "120"}, b"slow down"))
    result = WebhookChannel(settings=_settings(tmp_path), secret_key=SECRET).send(
        _hook(receiver.url)
    )
    assert result.outcome is Outcome.TRANSIENT
    assert result.extra["retry_after_seconds"] == 120


def test_retry_after_accepts_an_http_date() -> None:
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert (
        retry_after_seconds(format_datetime(now + timedelta(minutes=2), usegmt=True), now=now)
        == 120
    )
    assert (
        retry_after_seconds(format_datetime(now - timedelta(minutes=2), usegmt=True), now=now) == 0
    )
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http:///nohost",
        "https://example.com/a b",
        "not a url",
    ],
)
def test_webhook_refuses_non_http_urls_permanently(tmp_path: Path, url: str) -> None:
    result = WebhookChannel(settings=_settings(tmp_path), secret_key=SECRET).send(_hook(url))
    assert result.outcome is Outcome.PERMANENT
    assert result.detail.startswith("refused")


def test_webhook_connection_refused_and_timeout_are_transient(
    receiver: Receiver, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    refused = WebhookChannel(settings=settings, secret_key=SECRET).send(
        _hook(f"http://127.0.0.1:{free_port()}/hook")
    )
    assert refused.outcome is Outcome.TRANSIENT
    receiver.delay = 1.0
    impatient = WebhookChannel(settings=settings, secret_key=SECRET, timeout=httpx.Timeout(0.2))
    slow = impatient.send(_hook(receiver.url))
    assert slow.outcome is Outcome.TRANSIENT
    assert "timed out" in slow.detail
