"""Subscriptions end to end on committed data: the public form, the real outbox worker with
the event channel, and real receivers: an SMTP sink (aiosmtpd), a local webhook receiver and
a local HTTP SMS gateway."""

from __future__ import annotations

import dataclasses
import email
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from firstword.context import Context
from firstword.core.auth.roles import system_actor
from firstword.core.channels.sms import SmsChannel
from firstword.core.channels.smtp import SmtpChannel
from firstword.core.channels.webhook import SIGNATURE_HEADER, WebhookChannel, verify_signature
from firstword.core.db import transaction
from firstword.incidents import service as incidents
from firstword.incidents.schemas import UpdatePost
from firstword.statuspage import subscriptions
from firstword.statuspage.subscription_models import Subscriber
from firstword.web.app import create_app
from firstword.workers.events import install_event_channel
from firstword.workers.run import run_worker
from tests.core.test_channels import Receiver
from tests.factories import ensure_catalogue, make_incident
from tests.statuspage.subscription_support import CONFIRM_LINK

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _context(committing_context: Context, **settings: Any) -> Context:
    return dataclasses.replace(
        committing_context, settings=committing_context.settings.model_copy(update=settings)
    )


@pytest.fixture
def web(committing_context: Context) -> Iterator[Any]:
    """Builds (context, client) pairs over committed data, with the event channel installed."""
    clients: list[TestClient] = []

    def build(context: Context, **channels: Any) -> tuple[Context, TestClient]:
        context.channels.clear()
        context.channels.update(channels)
        install_event_channel(context, providers=[subscriptions.event_handlers])
        with transaction(context.sessionmaker) as session:
            ensure_catalogue(session, context.clock)
        client = TestClient(create_app(context))
        clients.append(client)
        return context, client

    yield build
    for client in clients:
        client.close()


def _deliver(context: Context) -> None:
    stats = run_worker(context, worker_id="test-worker", once=True, poll_interval=0.01)
    assert stats.dead == 0 and stats.retrying == 0, stats.line()


def _status(context: Context, address: str) -> str:
    with transaction(context.sessionmaker) as session:
        return session.query(Subscriber).filter_by(address=address).one().status


def _post_update(context: Context, ref: str, body: str) -> None:
    context.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    with transaction(context.sessionmaker) as session:
        incidents.post_update(
            session,
            clock=context.clock,
            actor=system_actor("tests"),
            ref=ref,
            data=UpdatePost(body=body),
        )


def _open_incident(context: Context, title: str, components: dict[str, str]) -> str:
    with transaction(context.sessionmaker) as session:
        return make_incident(session, context.clock, title=title, components=components).ref


def _parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_email_double_opt_in_update_and_one_click_unsubscribe(web, committing_context, smtp_sink):
    context = _context(committing_context, smtp_port=smtp_sink.port)
    context, client = web(context, smtp=SmtpChannel(settings=context.settings))

    response = client.post(
        "/subscribe",
        data={
            "channel": "email",
            "address": "ana@example.org",
            "scope": "some",
            "components": "card-payments",
            "lang": "en",
        },
    )
    assert response.status_code == 200
    _deliver(context)
    [confirmation] = [_parse(m["data"]) for m in smtp_sink.received()]
    assert confirmation["To"] == "ana@example.org"
    link = CONFIRM_LINK.search(_text(confirmation)).group(0)
    path = link.removeprefix(context.settings.public_base_url)
    assert "Confirm subscription" in str(confirmation.get_body(("html",)).get_content())

    assert client.get(path).status_code == 200
    assert _status(context, "ana@example.org") == "pending"  # following the link is not enough
    assert client.post(path).status_code == 200
    assert _status(context, "ana@example.org") == "confirmed"

    other = _open_incident(context, "Deliveries delayed", {"home-delivery": "degraded_performance"})
    _post_update(context, other, "Deliveries run a day late.")  # not a chosen component
    ref = _open_incident(context, "Card payments failing", {"card-payments": "major_outage"})
    _post_update(context, ref, "We are investigating failing card payments.")
    _deliver(context)
    mails = [_parse(m["data"]) for m in smtp_sink.received()][1:]
    assert len(mails) == 1, [m["Subject"] for m in mails]
    update = mails[0]
    assert update["Subject"] == "[Example Retail] Investigating: Card payments failing"
    assert "We are investigating failing card payments." in _text(update)
    unsubscribe = update["List-Unsubscribe"].strip()  # a long header may be folded
    assert re.fullmatch(r"<http://127\.0\.0\.1:8000/unsubscribe/[\w\-]+\.[\w\-]+>", unsubscribe)
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The same event once more (a retried delivery): nothing is sent twice.
    with transaction(context.sessionmaker) as session:
        entry = [e for e in incidents.timeline(session, ref=ref) if e.kind == "public_update"][-1]
    [handler] = subscriptions.event_handlers(context)["incident.changed"]
    handler({"ref": ref, "entry_id": entry.id, "kind": "public_update", "public": True})
    _deliver(context)
    assert len(smtp_sink.received()) == 2

    # RFC 8058 one-click, as a mail provider sends it: a POST with no cookie and no CSRF token.
    one_click = client.post(
        unsubscribe.strip("<>").removeprefix(context.settings.public_base_url),
        content=b"List-Unsubscribe=One-Click",
        headers=FORM,
    )
    assert one_click.status_code == 200
    assert _status(context, "ana@example.org") == "unsubscribed"
    _post_update(context, ref, "A fix is rolling out.")
    _deliver(context)
    assert len(smtp_sink.received()) == 2


def test_webhook_subscription_confirmed_by_its_receiver_and_signed(web, committing_context):
    context = _context(committing_context, webhook_allow_private_targets=True)
    with Receiver() as receiver:
        context, client = web(
            context,
            webhook=WebhookChannel(settings=context.settings, secret_key=context.secret_key),
        )
        page = client.post(
            "/subscribe", data={"channel": "webhook", "address": receiver.url, "lang": "en"}
        )
        assert page.status_code == 200
        secret = re.search(r'<code class="secret">([^<]+)</code>', page.text).group(1)
        _deliver(context)
        [ping] = receiver.requests
        assert verify_signature(secret, ping["headers"][SIGNATURE_HEADER], ping["body"])
        body = json.loads(ping["body"])
        assert (
            body["meta"]["event"] == "subscription.confirm" and secret not in ping["body"].decode()
        )
        confirm_url = body["subscription"]["confirm_url"]
        assert (
            client.post(confirm_url.removeprefix(context.settings.public_base_url)).status_code
            == 200
        )
        assert _status(context, receiver.url) == "confirmed"

        ref = _open_incident(context, "Website slow", {"website": "degraded_performance"})
        _post_update(context, ref, "Pages load slowly; we are on it.")
        _deliver(context)
        assert len(receiver.requests) == 2
        delivery = receiver.requests[1]
        assert verify_signature(secret, delivery["headers"][SIGNATURE_HEADER], delivery["body"])
        assert not verify_signature(
            "wrong", delivery["headers"][SIGNATURE_HEADER], delivery["body"]
        )
        assert re.fullmatch(r"sub:\d+:update:\d+", delivery["headers"]["Idempotency-Key"])
        event = json.loads(delivery["body"])
        assert event["meta"]["event"] == "incident.update"
        assert (
            event["incident"]["incident_updates"][0]["body"] == "Pages load slowly; we are on it."
        )
        assert "/unsubscribe/" in event["meta"]["unsubscribe"]


def test_sms_subscription_with_a_code_through_a_local_gateway(web, committing_context):
    with Receiver() as gateway:
        context = _context(
            committing_context,
            sms_gateway_url=gateway.url,
            sms_gateway_token="gw-token",
            sms_sender_id="ExampleRtl",
        )
        context, client = web(context, sms=SmsChannel(settings=context.settings))
        page = client.post(
            "/subscribe", data={"channel": "sms", "address": "+49 151 23456789", "lang": "de"}
        )
        assert page.status_code == 200 and 'action="/subscribe/verify"' in page.text
        _deliver(context)
        [request] = gateway.requests
        assert request["headers"]["Authorization"] == "Bearer gw-token"
        sent = json.loads(request["body"])
        assert sent["to"] == "+4915123456789" and sent["sender"] == "ExampleRtl"
        assert sent["reference"] == request["headers"]["Idempotency-Key"]
        code = re.search(r"\b(\d{6})\b", sent["text"]).group(1)

        wrong = f"{(int(code) + 1) % 10**6:06d}"
        form = {"address": "+4915123456789", "lang": "de"}
        assert client.post("/subscribe/verify", data=form | {"code": wrong}).status_code == 422
        assert client.post("/subscribe/verify", data=form | {"code": code}).status_code == 200
        assert _status(context, "+4915123456789") == "confirmed"

        ref = _open_incident(context, "Kassen gestört", {"stores-de": "partial_outage"})
        _post_update(context, ref, "Wir arbeiten daran.")
        _deliver(context)
        assert len(gateway.requests) == 2
        text = json.loads(gateway.requests[1]["body"])["text"]
        assert text.startswith(
            "Example Retail: Wird untersucht: Kassen gestört. Wir arbeiten daran."
        )
        assert re.search(r"Abmelden: http://127\.0\.0\.1:8000/unsubscribe/\S+$", text)
