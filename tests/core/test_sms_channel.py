"""The SMS channel against a local HTTP gateway: what is sent, and how answers are classified.
Also the SMTP channel's file transport (FIRSTWORD_MAIL_TRANSPORT=file)."""

from __future__ import annotations

import email
import json
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from firstword.core.channels.base import OutboundMessage, Outcome
from firstword.core.channels.sms import MAX_TEXT_CHARS, SmsChannel
from firstword.core.channels.smtp import SmtpChannel, message_id_for
from firstword.core.settings import Settings
from tests.conftest import free_port
from tests.core.test_channels import Receiver


def _settings(tmp_path: Path, url: str | None, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path, sms_gateway_url=url, secret_key="s", **extra)


def _sms(recipient: str = "+4915123456789", text: str = "Card payments work again.") -> Any:
    return OutboundMessage(
        id=3,
        channel="sms",
        recipient=recipient,
        payload={"text": text},
        idempotency_key="sub:7:update:12",
        attempt=1,
    )


@pytest.fixture
def gateway():
    with Receiver() as running:
        yield running


def test_sms_posts_json_with_token_and_idempotency_key(gateway, tmp_path):
    gateway.responses.append((202, {"Content-Type": "application/json"}, b'{"id": "gw-81"}'))
    channel = SmsChannel(
        settings=_settings(
            tmp_path, gateway.url, sms_gateway_token="tok", sms_sender_id="ExampleRtl"
        )
    )
    result = channel.send(_sms())
    assert result.outcome is Outcome.DELIVERED and result.provider_id == "gw-81"
    [request] = gateway.requests
    assert request["headers"]["Authorization"] == "Bearer tok"
    assert request["headers"]["Idempotency-Key"] == "sub:7:update:12"
    assert json.loads(request["body"]) == {
        "to": "+4915123456789",
        "text": "Card payments work again.",
        "sender": "ExampleRtl",
        "reference": "sub:7:update:12",
    }
    channel.close()


def test_sms_without_a_token_sends_no_authorization(gateway, tmp_path):
    SmsChannel(settings=_settings(tmp_path, gateway.url)).send(_sms())
    assert "Authorization" not in gateway.requests[0]["headers"]


@pytest.mark.parametrize(
    ("status", "headers", "outcome"),
    [
        (200, {}, Outcome.DELIVERED),
        (408, {}, Outcome.TRANSIENT),
        (429, {"Retry-After": "120"}, Outcome.TRANSIENT),
        (500, {}, Outcome.TRANSIENT),
        (503, {}, Outcome.TRANSIENT),
        (400, {}, Outcome.PERMANENT),
        (401, {}, Outcome.PERMANENT),
        (301, {"Location": "https://elsewhere.example/"}, Outcome.PERMANENT),
    ],
)
def test_sms_classifies_gateway_answers(gateway, tmp_path, status, headers, outcome):
    gateway.responses.append((status, headers, b"gateway says no"))
    result = SmsChannel(settings=_settings(tmp_path, gateway.url)).send(_sms())
    assert result.outcome is outcome, result.detail
    if status == 429:
        assert result.extra["retry_after_seconds"] == 120
    if status >= 400:
        assert f"HTTP {status}" in result.detail


def test_sms_without_a_gateway_is_permanent(tmp_path):
    result = SmsChannel(settings=_settings(tmp_path, None)).send(_sms())
    assert result.outcome is Outcome.PERMANENT
    assert result.detail.startswith("no SMS gateway configured")


@pytest.mark.parametrize(
    ("recipient", "text", "problem"),
    [
        ("015123456789", "hi", "E.164"),
        ("+49 151 23456789", "hi", "E.164"),
        ("+4915123456789", "", "payload.text"),
        ("+4915123456789", "x" * (MAX_TEXT_CHARS + 1), "at most 612"),
    ],
)
def test_unsendable_sms_is_refused_without_calling_the_gateway(
    gateway, tmp_path, recipient, text, problem
):
    result = SmsChannel(settings=_settings(tmp_path, gateway.url)).send(_sms(recipient, text))
    assert result.outcome is Outcome.PERMANENT and problem in result.detail
    assert gateway.requests == []


def test_sms_gateway_unreachable_is_transient(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/sms"
    result = SmsChannel(settings=_settings(tmp_path, url)).send(_sms())
    assert result.outcome is Outcome.TRANSIENT and "cannot reach SMS gateway" in result.detail


# --- SMTP file transport ------------------------------------------------------------------


def test_file_transport_writes_eml_files_instead_of_sending(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        mail_transport="file",
        smtp_port=free_port(),  # nothing listens: a real send would fail
        mail_from="Example Retail <status@shop.example>",
    )
    message = OutboundMessage(
        id=1,
        channel="smtp",
        recipient="ana@example.org",
        payload={
            "subject": "Card payments work again",
            "text": "All fixed.\n",
            "html": "<p>All fixed.</p>",
            "headers": {"List-Unsubscribe": "<https://shop.example/unsubscribe/x>"},
        },
        idempotency_key="sub:1:update:2",
        attempt=1,
    )
    result = SmtpChannel(settings=settings).send(message)
    assert result.outcome is Outcome.DELIVERED, result.detail
    message_id = message_id_for("sub:1:update:2", settings.mail_from)
    path = tmp_path / "mail" / f"{message_id.strip('<>')}.eml"
    assert result.provider_id == message_id and str(path) in result.detail
    parsed = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert parsed["To"] == "ana@example.org" and parsed["Message-ID"] == message_id
    assert parsed["List-Unsubscribe"] == "<https://shop.example/unsubscribe/x>"
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == [path.name]  # no temp left

    again = SmtpChannel(settings=settings).send(message)  # a repeat replaces the same file
    assert again.outcome is Outcome.DELIVERED
    assert len(list((tmp_path / "mail").iterdir())) == 1


def test_file_transport_refuses_what_smtp_refuses(tmp_path):
    settings = Settings(data_dir=tmp_path, mail_transport="file")
    bad = OutboundMessage(
        id=1,
        channel="smtp",
        recipient="a@example.org\r\nBcc: b@example.org",
        payload={"subject": "s", "text": "t"},
        idempotency_key="k",
        attempt=1,
    )
    assert SmtpChannel(settings=settings).send(bad).outcome is Outcome.PERMANENT
    assert not (tmp_path / "mail").exists()
