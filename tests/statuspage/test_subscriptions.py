"""The subscription service: double opt-in, no enumeration, per-address cap, SMS codes,
unsubscribe links, address checks (SSRF), counts, and the fan-out of public updates."""

from __future__ import annotations

from datetime import timedelta

import pytest

from firstword.core.auth.roles import system_actor
from firstword.core.ids import sha256_hex
from firstword.incidents import service as incidents
from firstword.incidents.schemas import UpdatePost
from firstword.statuspage import subscriptions
from firstword.statuspage.subscription_fanout import notify_update
from firstword.statuspage.subscription_models import SubscriberComponent
from firstword.statuspage.subscription_targets import AddressProblem
from tests.factories import ensure_catalogue, make_incident
from tests.statuspage.subscription_support import (
    CODE,
    confirm_token,
    confirmed,
    count_subscribers,
    public_resolver,
    queued,
    subscribe,
    subscriber,
    unsubscribe_token,
)

SECRET = "test-secret-key"


@pytest.fixture
def catalogue(session, clock):
    return ensure_catalogue(session, clock)


# --- e-mail: double opt-in --------------------------------------------------------------


def test_email_subscription_waits_for_confirmation(session, clock, settings, catalogue):
    result = subscribe(
        session, clock, settings, "  Ana.Ruiz@Example.ORG ", components=["card-payments"]
    )
    assert result.address == "Ana.Ruiz@example.org"  # domain lower-cased, whitespace gone
    row = subscriber(session, "Ana.Ruiz@example.org")
    assert row.status == "pending" and not row.all_components
    assert [c.component_key for c in row.components] == ["card-payments"]
    assert row.address_hash == sha256_hex("email:ana.ruiz@example.org")

    [message] = queued(session, recipient="Ana.Ruiz@example.org")
    assert message.channel == "smtp" and message.topic == "statuspage.subscription"
    token = confirm_token(message)
    assert row.confirm_hash == sha256_hex(token) and token not in (row.confirm_hash or "")
    assert message.payload["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Chip and PIN card payments in store" in message.payload["text"]

    # Looking at the link changes nothing; confirming does, once.
    view = subscriptions.pending_for_token(session, clock=clock, token=token)
    assert view is not None and view.components == ["card-payments"]
    assert subscriber(session, "Ana.Ruiz@example.org").status == "pending"
    assert subscriptions.confirm(session, clock=clock, token=token) is not None
    assert subscriber(session, "Ana.Ruiz@example.org").status == "confirmed"
    assert subscriptions.confirm(session, clock=clock, token=token) is None
    assert subscriptions.confirm(session, clock=clock, token="made-up") is None


def test_confirmation_link_expires_after_48_hours(session, clock, settings, catalogue):
    subscribe(session, clock, settings, "late@example.org")
    token = confirm_token(queued(session, recipient="late@example.org")[0])
    clock.advance(timedelta(hours=48, seconds=1))
    assert subscriptions.confirm(session, clock=clock, token=token) is None
    assert subscriber(session, "late@example.org").status == "pending"


def test_a_known_address_learns_nothing_and_changes_nothing(session, clock, settings, catalogue):
    row = confirmed(session, clock, settings, "known@example.org", components=["card-payments"])
    new = subscribe(session, clock, settings, "new@example.org")
    again = subscribe(
        session, clock, settings, "known@example.org", components=["stores-de"], language="de"
    )
    assert again.model_dump(exclude={"address"}) == new.model_dump(exclude={"address"})
    session.refresh(row)
    assert row.status == "confirmed" and row.language == "en"
    assert [c.component_key for c in row.components] == ["card-payments"]
    note = queued(session, recipient="known@example.org")[-1]
    assert "already" in note.payload["subject"].lower()
    assert "/subscribe/confirm/" not in note.payload["text"]
    assert note.payload["headers"]["List-Unsubscribe"].startswith("<http")


def test_at_most_three_confirmation_messages_per_address_per_hour(
    session, clock, settings, catalogue
):
    for _ in range(3):
        subscribe(session, clock, settings, "cap@example.org")
    links = [confirm_token(m) for m in queued(session, recipient="cap@example.org")]
    assert len(links) == 3
    result = subscribe(session, clock, settings, "cap@example.org", components=["stores-de"])
    assert result.address == "cap@example.org"
    assert len(queued(session, recipient="cap@example.org")) == 3  # dropped silently
    row = subscriber(session, "cap@example.org")
    assert row.all_components  # the request over the cap changed nothing...
    assert row.confirm_hash == sha256_hex(links[-1])  # ...not even the link last sent
    clock.advance(timedelta(minutes=61))
    subscribe(session, clock, settings, "cap@example.org")
    assert len(queued(session, recipient="cap@example.org")) == 4


def test_resubscribing_after_unsubscribing_needs_a_new_confirmation(
    session, clock, settings, catalogue
):
    confirmed(session, clock, settings, "back@example.org")
    first = queued(session, recipient="back@example.org")[0]
    assert subscriptions.unsubscribe(
        session, clock=clock, secret_key=SECRET, token=unsubscribe_token(first)
    )
    subscribe(session, clock, settings, "back@example.org", components=["stores-uk"])
    row = subscriber(session, "back@example.org")
    assert row.status == "pending" and row.unsubscribed_at is None
    assert [c.component_key for c in row.components] == ["stores-uk"]
    assert subscriptions.confirm(
        session, clock=clock, token=confirm_token(queued(session, recipient="back@example.org")[-1])
    )


def test_changing_components_of_a_pending_subscription(session, clock, settings, catalogue):
    subscribe(session, clock, settings, "p@example.org", components=["card-payments", "stores-uk"])
    subscribe(session, clock, settings, "p@example.org", components=["stores-uk", "stores-de"])
    row = subscriber(session, "p@example.org")
    assert sorted(c.component_key for c in row.components) == ["stores-de", "stores-uk"]
    stored = session.query(SubscriberComponent).filter_by(subscriber_id=row.id).count()
    assert stored == 2


# --- unsubscribe links --------------------------------------------------------------------


def test_unsubscribe_links_are_signed_and_idempotent(session, clock, settings, catalogue):
    confirmed(session, clock, settings, "u@example.org")
    token = unsubscribe_token(queued(session, recipient="u@example.org")[0])
    public_id, mac = token.split(".")
    forged = f"{public_id}.{'A' * len(mac)}"
    assert subscriptions.unsubscribe(session, clock=clock, secret_key=SECRET, token=forged) is None
    assert subscriptions.unsubscribe(session, clock=clock, secret_key="other", token=token) is None
    assert subscriber(session, "u@example.org").status == "confirmed"
    assert subscriptions.subscription_for_unsubscribe(session, secret_key=SECRET, token=token)
    assert subscriber(session, "u@example.org").status == "confirmed"  # looking is harmless
    view = subscriptions.unsubscribe(session, clock=clock, secret_key=SECRET, token=token)
    assert view is not None and view.status == "unsubscribed" and view.address == "u…@example.org"
    at = subscriber(session, "u@example.org").unsubscribed_at
    clock.advance(timedelta(minutes=5))
    assert subscriptions.unsubscribe(session, clock=clock, secret_key=SECRET, token=token)
    assert subscriber(session, "u@example.org").unsubscribed_at == at


# --- SMS codes ----------------------------------------------------------------------------


def _code(session, number: str) -> str:
    text = queued(session, recipient=number)[-1].payload["text"]
    match = CODE.search(text)
    assert match, text
    return match.group(1)


def test_sms_subscription_is_confirmed_with_the_code(session, clock, settings, catalogue):
    result = subscribe(session, clock, settings, "+49 151 2345 6789", channel="sms")
    assert result.address == "+4915123456789"
    [message] = queued(session, recipient="+4915123456789")
    assert message.channel == "sms" and len(message.payload["text"]) <= 160
    code = _code(session, "+4915123456789")
    row = subscriber(session, "+4915123456789")
    assert code not in (row.code_hash or "") and row.confirm_hash is None
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(4):
        assert (
            subscriptions.verify_code(
                session, clock=clock, secret_key=SECRET, phone="+4915123456789", code=wrong
            )
            is None
        )
    view = subscriptions.verify_code(
        session, clock=clock, secret_key=SECRET, phone="0049 151 23456789", code=code
    )
    assert view is not None and view.status == "confirmed"


def test_five_wrong_codes_void_the_code(session, clock, settings, catalogue):
    subscribe(session, clock, settings, "+447911123456", channel="sms")
    code = _code(session, "+447911123456")
    wrong = f"{(int(code) + 7) % 10**6:06d}"
    for _ in range(5):
        subscriptions.verify_code(
            session, clock=clock, secret_key=SECRET, phone="+447911123456", code=wrong
        )
    assert subscriber(session, "+447911123456").code_hash is None
    assert (
        subscriptions.verify_code(
            session, clock=clock, secret_key=SECRET, phone="+447911123456", code=code
        )
        is None
    )


def test_sms_code_expires_after_30_minutes(session, clock, settings, catalogue):
    subscribe(session, clock, settings, "+14155552671", channel="sms", language="de")
    code = _code(session, "+14155552671")
    assert "Ihr Code lautet" in queued(session, recipient="+14155552671")[0].payload["text"]
    clock.advance(timedelta(minutes=31))
    assert (
        subscriptions.verify_code(
            session, clock=clock, secret_key=SECRET, phone="+14155552671", code=code
        )
        is None
    )


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "address", "code"),
    [
        ("email", "ana@example.org\r\nBcc: victim@example.org", "email_invalid"),
        ("email", "a" * 250 + "@example.org", "email_too_long"),
        ("email", "<script>alert(1)</script>@example.org", "email_invalid"),
        ("email", "not-an-address", "email_invalid"),
        ("email", "   ", "address_missing"),
        ("sms", "call me maybe", "phone_invalid"),
        ("sms", "+49 30 1234567", "phone_not_mobile"),
        ("sms", "030 1234567", "phone_invalid"),  # no country code
        ("webhook", "javascript:alert(1)", "url_scheme"),
        ("webhook", "ftp://example.com/hook", "url_scheme"),
        ("webhook", "https://user:pw@hooks.example.com/", "url_credentials"),
        ("webhook", "https://hooks.example.com/a b", "url_invalid"),
        ("webhook", "https://" + "a" * 600 + ".example.com/", "url_too_long"),
    ],
)
def test_bad_addresses_are_refused_and_nothing_is_stored(
    session, clock, settings, catalogue, channel, address, code
):
    with pytest.raises(AddressProblem) as caught:
        subscribe(
            session, clock, settings, address, channel=channel, resolve=public_resolver("8.8.8.8")
        )
    assert caught.value.code == code and caught.value.field == "address"
    assert count_subscribers(session) == 0
    assert queued(session) == []


def test_unknown_components_and_languages_are_refused(session, clock, settings, catalogue):
    with pytest.raises(AddressProblem) as caught:
        subscribe(session, clock, settings, "x@example.org", components=["<b>nope</b>"])
    assert caught.value.field == "components" and "nope" in caught.value.reason
    with pytest.raises(AddressProblem) as caught:
        subscribe(session, clock, settings, "x@example.org", language="fr")
    assert caught.value.field == "language"
    assert count_subscribers(session) == 0


@pytest.mark.parametrize(
    ("url", "resolves_to"),
    [
        ("http://127.0.0.1:8080/hook", None),
        ("http://10.1.2.3/hook", None),
        ("http://169.254.169.254/latest/meta-data/", None),
        ("http://[::1]/hook", None),
        ("http://[::ffff:127.0.0.1]/hook", None),
        ("http://0.0.0.0/hook", None),
        ("http://2130706433/hook", None),  # 127.0.0.1 written as one number
        ("http://224.0.0.1/hook", None),
        ("http://100.64.0.1/hook", None),  # carrier-grade NAT
        ("http://localhost:9000/hook", None),  # a name resolving to loopback, really resolved
        ("https://hooks.example.com/x", ("93.184.216.34", "192.168.1.10")),  # one bad answer
        ("https://rebind.example.com/x", ("fe80::1",)),
    ],
)
def test_webhooks_to_private_addresses_are_refused(
    session, clock, settings, catalogue, url, resolves_to
):
    resolver = public_resolver(*resolves_to) if resolves_to else None
    with pytest.raises(AddressProblem) as caught:
        subscribe(session, clock, settings, url, channel="webhook", resolve=resolver)
    assert caught.value.code == "url_private", caught.value.reason
    assert count_subscribers(session) == 0


def test_webhook_host_that_does_not_resolve(session, clock, settings, catalogue):
    def failing(*_args, **_kwargs):
        raise OSError("Name or service not known")

    with pytest.raises(AddressProblem) as caught:
        subscribe(
            session, clock, settings, "https://nowhere.invalid/", channel="webhook", resolve=failing
        )
    assert caught.value.code == "url_unresolvable"


def test_public_and_allowed_private_webhooks(session, clock, settings, catalogue):
    result = subscribe(
        session,
        clock,
        settings,
        "HTTPS://Hooks.Example.com:8443/status?team=ops",
        channel="webhook",
        resolve=public_resolver("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"),
    )
    assert result.address == "https://hooks.example.com:8443/status?team=ops"
    assert result.webhook_secret and len(result.webhook_secret) >= 40
    row = subscriber(session, result.address)
    assert row.secret == result.webhook_secret and row.status == "pending"
    ping = queued(session, recipient=result.address)[0]
    assert ping.channel == "webhook" and ping.payload["secret"] == result.webhook_secret
    body = ping.payload["body"]
    assert body["meta"]["event"] == "subscription.confirm"
    assert "/subscribe/confirm/" in body["subscription"]["confirm_url"]
    assert "/unsubscribe/" in body["meta"]["unsubscribe"]

    allowing = settings.model_copy(update={"webhook_allow_private_targets": True})
    local = subscribe(session, clock, allowing, "http://127.0.0.1:9/hook", channel="webhook")
    assert local.address == "http://127.0.0.1:9/hook"


def test_a_known_webhook_gets_a_decoy_secret(session, clock, settings, catalogue):
    allowing = settings.model_copy(update={"webhook_allow_private_targets": True})
    first = subscribe(session, clock, allowing, "http://127.0.0.1:9/hook", channel="webhook")
    token = queued(session)[0].payload["body"]["subscription"]["confirm_url"].rsplit("/", 1)[1]
    assert subscriptions.confirm(session, clock=clock, token=token)
    again = subscribe(session, clock, allowing, "http://127.0.0.1:9/hook", channel="webhook")
    assert again.webhook_secret and again.webhook_secret != first.webhook_secret
    assert subscriber(session, "http://127.0.0.1:9/hook").secret == first.webhook_secret
    assert len(queued(session)) == 1  # nothing new sent to a confirmed webhook


# --- counts -------------------------------------------------------------------------------


def test_subscriber_summary(session, clock, settings, catalogue):
    confirmed(session, clock, settings, "all@example.org")
    confirmed(session, clock, settings, "card@example.org", components=["card-payments"])
    confirmed(
        session, clock, settings, "two@example.org", components=["card-payments", "stores-de"]
    )
    subscribe(session, clock, settings, "pending@example.org")
    subscribe(session, clock, settings, "+4915123456789", channel="sms")
    gone = confirmed(session, clock, settings, "gone@example.org")
    token = subscriptions.unsubscribe_token(SECRET, gone.public_id)
    clock.advance(timedelta(days=1))
    subscriptions.unsubscribe(session, clock=clock, secret_key=SECRET, token=token)

    summary = subscriptions.subscriber_summary(session, clock=clock)
    assert summary.total == 6
    assert (summary.confirmed, summary.pending, summary.unsubscribed) == (3, 2, 1)
    assert summary.by_channel == {"email": 3, "sms": 0, "webhook": 0}
    assert summary.all_components == 1
    assert summary.by_component == {"card-payments": 2, "stores-de": 1}
    assert summary.unsubscribed_last_7_days == 1
    clock.advance(timedelta(days=7, minutes=1))
    assert subscriptions.subscriber_summary(session, clock=clock).unsubscribed_last_7_days == 0


# --- fan-out ------------------------------------------------------------------------------


def _post(session, clock, ref: str, body: str, **extra):
    clock.advance(timedelta(minutes=5))
    return incidents.post_update(
        session,
        clock=clock,
        actor=system_actor("tests"),
        ref=ref,
        data=UpdatePost(body=body, **extra),
    )


def _entry_id(session, ref: str, body: str) -> int:
    return next(
        e.id
        for e in incidents.timeline(session, ref=ref)
        if e.kind == "public_update" and (e.after or {}).get("body") == body
    )


def test_fan_out_reaches_exactly_the_interested_confirmed_subscribers(
    context, session, clock, settings, catalogue
):
    everything = confirmed(session, clock, settings, "all@example.org", language="de")
    card = confirmed(session, clock, settings, "card@example.org", components=["card-payments"])
    confirmed(session, clock, settings, "de@example.org", components=["stores-de"])
    subscribe(session, clock, settings, "pending@example.org")
    gone = confirmed(session, clock, settings, "gone@example.org")
    subscriptions.unsubscribe(
        session,
        clock=clock,
        secret_key=SECRET,
        token=subscriptions.unsubscribe_token(SECRET, gone.public_id),
    )
    incident = make_incident(
        session,
        clock,
        title="Card payments failing in stores",
        components={"card-payments": "major_outage"},
        customer_advice="Pay with cash.",
    )
    _post(session, clock, incident.ref, "We are investigating. <b>Cash</b> works.")
    _post(session, clock, incident.ref, "Fix rolling out.", state="identified")
    session.flush()
    first = _entry_id(session, incident.ref, "We are investigating. <b>Cash</b> works.")

    assert notify_update(context, ref=incident.ref, entry_id=first) == 2
    updates = queued(session, topic="statuspage.update")
    assert sorted(m.recipient for m in updates) == ["all@example.org", "card@example.org"]
    posted = incidents.get_incident(session, clock=clock, ref=incident.ref).updates
    first_update = min(posted, key=lambda u: u.id)
    assert {m.idempotency_key for m in updates} == {
        f"sub:{everything.id}:update:{first_update.id}",
        f"sub:{card.id}:update:{first_update.id}",
    }
    # The event for the first update sends the first update, although a newer one exists.
    assert all("We are investigating." in m.payload["text"] for m in updates)
    german = next(m for m in updates if m.recipient == "all@example.org").payload
    assert german["subject"].startswith(
        "[Example Retail] Wird untersucht: Card payments"
    )  # state in German
    assert "Kartenzahlung mit PIN in der Filiale" in german["text"]
    assert "Was Sie tun können" in german["text"] and "Pay with cash." in german["text"]
    assert "<b>Cash</b>" in german["text"]  # text part as written
    assert "&lt;b&gt;Cash&lt;/b&gt;" in german["html"] and "<b>Cash" not in german["html"]
    link = german["headers"]["List-Unsubscribe"].strip("<>")
    assert link in german["text"] and link in german["html"]
    assert link.endswith(subscriptions.unsubscribe_token(SECRET, everything.public_id))
    assert german["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The same event again (a retry) queues nothing.
    assert notify_update(context, ref=incident.ref, entry_id=first) == 0
    assert len(queued(session, topic="statuspage.update")) == 2


def test_fan_out_walks_subscribers_in_batches(
    context, session, clock, settings, catalogue, monkeypatch
):
    from firstword.statuspage import subscription_fanout

    monkeypatch.setattr(subscription_fanout, "BATCH_SIZE", 2)
    for n in range(5):
        confirmed(session, clock, settings, f"s{n}@example.org")
    incident = make_incident(session, clock, components={"website": "partial_outage"})
    _post(session, clock, incident.ref, "Pages load slowly.")
    session.flush()
    entry = _entry_id(session, incident.ref, "Pages load slowly.")
    assert notify_update(context, ref=incident.ref, entry_id=entry) == 5
    assert len({m.recipient for m in queued(session, topic="statuspage.update")}) == 5


def test_sms_and_webhook_update_messages(context, session, clock, settings, catalogue):
    allowing = settings.model_copy(update={"webhook_allow_private_targets": True})
    subscribe(session, clock, settings, "+4915123456789", channel="sms", language="de")
    assert subscriptions.verify_code(
        session,
        clock=clock,
        secret_key=SECRET,
        phone="+4915123456789",
        code=_code(session, "+4915123456789"),
    )
    hook = subscribe(session, clock, allowing, "http://127.0.0.1:9/hook", channel="webhook")
    ping = queued(session, recipient="http://127.0.0.1:9/hook")[0]
    assert subscriptions.confirm(
        session,
        clock=clock,
        token=ping.payload["body"]["subscription"]["confirm_url"].rsplit("/", 1)[1],
    )
    incident = make_incident(
        session, clock, title="Checkout down", components={"online-checkout": "major_outage"}
    )
    _post(session, clock, incident.ref, "Long update. " * 80)
    session.flush()
    entry = _entry_id(session, incident.ref, ("Long update. " * 80).strip())
    assert notify_update(context, ref=incident.ref, entry_id=entry) == 2

    sms = queued(session, topic="statuspage.update", channel="sms")[0].payload["text"]
    assert len(sms) <= 612 and sms.startswith("Example Retail: Wird untersucht: Checkout down.")
    assert "…" in sms and "Abmelden: http://127.0.0.1:8000/unsubscribe/" in sms

    webhook = queued(session, topic="statuspage.update", channel="webhook")[0].payload
    assert webhook["secret"] == hook.webhook_secret
    body = webhook["body"]
    assert body["meta"]["event"] == "incident.update"
    assert "/unsubscribe/" in body["meta"]["unsubscribe"]
    assert body["incident"]["id"] == incident.ref and body["incident"]["impact"] == "critical"
    assert body["incident"]["incident_updates"][0]["body"].startswith("Long update.")
    assert body["incident"]["components"][0]["key"] == "online-checkout"


def test_only_public_updates_are_fanned_out(context, session, clock, settings, catalogue):
    confirmed(session, clock, settings, "all@example.org")
    incident = make_incident(session, clock, components={"website": "partial_outage"})
    session.flush()
    [handler] = subscriptions.event_handlers(context)["incident.changed"]
    opened = incidents.timeline(session, ref=incident.ref)[0]
    handler({"ref": incident.ref, "entry_id": opened.id, "kind": "opened", "public": True})
    assert queued(session, topic="statuspage.update") == []
    _post(session, clock, incident.ref, "Update.")
    session.flush()
    entry = _entry_id(session, incident.ref, "Update.")
    handler({"ref": incident.ref, "entry_id": entry, "kind": "public_update", "public": True})
    assert len(queued(session, topic="statuspage.update")) == 1
    # A missing incident is logged and dropped, not retried forever.
    assert notify_update(context, ref="INC-2099-9999", entry_id=1) == 0
