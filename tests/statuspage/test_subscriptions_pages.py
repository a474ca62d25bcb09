"""The public subscription pages over HTTP: the form in two languages, identical answers for
known and unknown addresses, bad input, confirm and unsubscribe links that only act on POST
(RFC 8058 one-click), rate limits, and the staff count route."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from firstword.statuspage import subscriptions
from firstword.statuspage.i18n import PAGE_LANGUAGES
from firstword.statuspage.render import PAGE_CSP
from firstword.statuspage.subscription_text import TEXT
from firstword.web.app import create_app
from tests.factories import ensure_catalogue, make_user
from tests.statuspage.page_support import HOSTILE
from tests.statuspage.subscription_support import (
    confirm_token,
    confirmed,
    count_subscribers,
    queued,
    subscriber,
    unsubscribe_token,
)
from tests.web.conftest import bearer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def catalogue(session, clock):
    return ensure_catalogue(session, clock)


def _post(client, data, path="/subscribe", **kwargs):
    return client.post(path, data=data, **kwargs)


def test_every_text_is_in_every_language():
    placeholder = re.compile(r"%\(\w+\)s")
    for key, by_lang in TEXT.items():
        assert set(by_lang) == set(PAGE_LANGUAGES), key
        wanted = set(placeholder.findall(by_lang["en"]))
        for text in by_lang.values():
            assert text.strip() and set(placeholder.findall(text)) == wanted, key


def test_the_form_in_english_and_german(client, catalogue):
    page = client.get("/subscribe?lang=en")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert page.headers["cache-control"] == "no-store"
    assert '<html lang="en">' in page.text and "Get status updates" in page.text
    assert 'name="components" value="card-payments"' in page.text
    assert 'type="email"' in page.text and "<script" not in page.text
    german = client.get("/subscribe", headers={"Accept-Language": "de-DE"})
    assert '<html lang="de">' in german.text and "Status-Updates erhalten" in german.text
    assert "Kartenzahlung mit PIN in der Filiale" in german.text  # the catalogue, translated
    sms = client.get("/subscribe?channel=sms&lang=de")
    assert 'type="tel"' in sms.text and 'aria-current="page">SMS<' in sms.text
    chosen = client.get("/subscribe?component=stores-de")
    assert 'value="stores-de" checked' in chosen.text and 'value="some" checked' in chosen.text


def test_the_answer_is_the_same_for_new_known_and_pending_addresses(
    client, session, clock, settings, catalogue
):
    confirmed(session, clock, settings, "known@example.org")
    session.commit()
    new = _post(client, {"channel": "email", "address": "new@example.org", "lang": "en"})
    assert new.status_code == 200 and "We have sent an e-mail to new@example.org" in new.text
    for address in ("known@example.org", "new@example.org"):  # confirmed, then pending
        again = _post(client, {"channel": "email", "address": address, "lang": "en"})
        assert again.status_code == new.status_code
        assert again.text == new.text.replace("new@example.org", address)
        assert dict(again.headers) == dict(new.headers) | {
            "content-length": again.headers["content-length"]
        }


def test_subscribe_confirm_and_unsubscribe_over_http(client, session, catalogue):
    response = _post(
        client,
        {
            "channel": "email",
            "address": "ana@example.org",
            "scope": "some",
            "components": ["card-payments", "stores-uk"],
            "lang": "de",
        },
    )
    assert response.status_code == 200 and "Fast geschafft" in response.text
    [message] = queued(session, recipient="ana@example.org")
    assert "Bitte bestätigen" in message.payload["subject"]
    token = confirm_token(message)

    page = client.get(f"/subscribe/confirm/{token}")
    assert page.status_code == 200 and 'method="post"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "Kartenzahlung mit PIN in der Filiale" in page.text
    assert subscriber(session, "ana@example.org").status == "pending"  # GET changed nothing
    done = client.post(f"/subscribe/confirm/{token}")
    assert done.status_code == 200 and "Abonnement bestätigt" in done.text
    assert subscriber(session, "ana@example.org").status == "confirmed"
    assert client.post(f"/subscribe/confirm/{token}").status_code == 404  # used

    link = unsubscribe_token(message)
    ask = client.get(f"/unsubscribe/{link}?lang=en")
    assert ask.status_code == 200 and "Stop sending status updates to a…@example.org?" in ask.text
    assert subscriber(session, "ana@example.org").status == "confirmed"  # GET changed nothing
    one_click = client.post(
        f"/unsubscribe/{link}", content=b"List-Unsubscribe=One-Click", headers=FORM
    )
    assert one_click.status_code == 200 and "Sie sind abgemeldet" in one_click.text
    assert subscriber(session, "ana@example.org").status == "unsubscribed"
    assert "Sie sind abgemeldet" in client.get(f"/unsubscribe/{link}").text
    assert client.post(f"/unsubscribe/{link}x").status_code == 404
    assert client.get("/unsubscribe/nothing.here").status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"address": "ana@example.org\r\nBcc: x@example.org"}, "valid e-mail address"),
        ({"address": "a" * 300 + "@example.org"}, "too long"),
        ({"address": "x" * 5000}, "too long"),
        ({"address": HOSTILE}, "valid e-mail address"),
        ({"address": ""}, "where we should send"),
        ({"channel": "sms", "address": "<b>0800</b>"}, "valid mobile number"),
        ({"channel": "webhook", "address": "javascript:alert(1)"}, "Only http:// and https://"),
        ({"channel": "webhook", "address": "http://127.0.0.1:8080/"}, "public internet address"),
        ({"channel": "pigeon"}, "e-mail, text message or webhook"),
        ({"scope": "some"}, "at least one service"),
        ({"scope": "some", "components": HOSTILE}, "does not exist"),
        ({"lang": "<x>"}, "language from the list"),
    ],
)
def test_bad_input_gets_the_form_back_with_422_and_stores_nothing(
    client, session, catalogue, data, message
):
    form = {"channel": "email", "address": "ana@example.org", "lang": "en"} | data
    response = _post(client, form)
    assert response.status_code == 422, response.text[:300]
    assert message in response.text
    assert 'role="alert"' in response.text and "<form" in response.text
    assert "<script>" not in response.text and "<b>0800" not in response.text
    assert count_subscribers(session) == 0 and queued(session) == []


def test_bodies_that_are_not_small_forms_get_422(client, session, catalogue):
    json_body = client.post("/subscribe", json={"channel": "email", "address": "a@example.org"})
    assert json_body.status_code == 422 and "could not be read" in json_body.text
    huge = client.post("/subscribe", content=b"address=" + b"a" * 70_000, headers=FORM)
    assert huge.status_code == 422
    not_utf8 = client.post("/subscribe", content=b"address=\xff\xfe", headers=FORM)
    assert not_utf8.status_code == 422
    assert count_subscribers(session) == 0


def test_sms_code_page(client, session, catalogue):
    page = _post(client, {"channel": "sms", "address": "+49 151 23456789", "lang": "en"})
    assert page.status_code == 200 and 'action="/subscribe/verify"' in page.text
    assert 'value="+4915123456789"' in page.text
    text = queued(session, recipient="+4915123456789")[0].payload["text"]
    code = re.search(r"\b(\d{6})\b", text).group(1)
    wrong = _post(
        client,
        {"address": "+4915123456789", "code": f"{(int(code) + 1) % 10**6:06d}", "lang": "en"},
        path="/subscribe/verify",
    )
    assert wrong.status_code == 422 and "not valid or has expired" in wrong.text
    assert subscriber(session, "+4915123456789").code_attempts == 1  # the attempt counted
    unknown = _post(
        client, {"address": "+447911123456", "code": code, "lang": "en"}, path="/subscribe/verify"
    )
    assert unknown.status_code == 422 and unknown.text.count("not valid or has expired") == 1
    right = _post(
        client, {"address": "+4915123456789", "code": code, "lang": "en"}, path="/subscribe/verify"
    )
    assert right.status_code == 200 and "You are subscribed" in right.text
    assert subscriber(session, "+4915123456789").status == "confirmed"


def test_webhook_page_shows_the_secret_once(client, context, session, catalogue):
    allowing = dataclasses.replace(
        context,
        settings=context.settings.model_copy(update={"webhook_allow_private_targets": True}),
    )
    with TestClient(create_app(allowing)) as local:
        page = _post(
            local, {"channel": "webhook", "address": "http://127.0.0.1:9/hook", "lang": "en"}
        )
    assert page.status_code == 200
    secret = re.search(r'<code class="secret">([^<]+)</code>', page.text).group(1)
    assert subscriber(session, "http://127.0.0.1:9/hook").secret == secret


def test_subscribing_is_rate_limited_per_client(context, session, catalogue):
    strict = dataclasses.replace(
        context, settings=context.settings.model_copy(update={"subscribe_rate_limit_per_minute": 2})
    )
    with TestClient(create_app(strict)) as client:
        statuses = [
            _post(client, {"channel": "email", "address": f"r{n}@example.org"}).status_code
            for n in range(3)
        ]
        assert statuses == [200, 200, 429]
        assert client.get("/subscribe").status_code == 200  # the form has its own budget


def test_staff_see_subscriber_counts(client, session, clock, settings, catalogue):
    confirmed(session, clock, settings, "a@example.org", components=["card-payments"])
    assert client.get("/api/v1/statuspage/subscribers/summary").status_code == 401
    viewer = make_user(session, clock, roles=["viewer"])
    response = client.get(
        "/api/v1/statuspage/subscribers/summary", headers=bearer(session, clock, viewer)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["confirmed"] == 1 and body["by_component"] == {"card-payments": 1}
    assert body["by_channel"]["email"] == 1 and body["unsubscribed_last_7_days"] == 0
    assert set(body) == set(subscriptions.SubscriberSummary.model_fields)
