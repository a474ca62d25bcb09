"""What subscribers receive: confirmation and "already subscribed" messages, and incident
updates, as outbox payloads for the smtp, sms and webhook channels.

E-mails have a text and an HTML part (templates/statuspage/mail/) and always carry
`List-Unsubscribe: <.../unsubscribe/TOKEN>` with `List-Unsubscribe-Post:
List-Unsubscribe=One-Click` (RFC 8058). Texts end with a short unsubscribe URL. Webhook
bodies follow the shape of Atlassian Statuspage's incident webhooks (`meta.unsubscribe`,
`page`, `incident` with `incident_updates`). What staff wrote (title, update, advice) is sent
as written; the words around it are in the subscriber's language.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from firstword.core.channels.sms import MAX_TEXT_CHARS
from firstword.core.settings import Settings
from firstword.incidents.schemas import IncidentRead, UpdateRead
from firstword.incidents.vocabulary import ComponentStatus
from firstword.statuspage import i18n
from firstword.statuspage.render import STATE_LABELS, STATUS_LABELS
from firstword.statuspage.statuspage_v2 import sid, ts
from firstword.statuspage.subscription_models import Subscriber, SubscriberChannel
from firstword.statuspage.subscription_text import texts
from firstword.statuspage.view import incident_impact, worst

MAIL_TEMPLATES = Path(__file__).resolve().parent / "templates" / "statuspage" / "mail"
OUTBOX_CHANNEL = {
    SubscriberChannel.EMAIL: "smtp",
    SubscriberChannel.SMS: "sms",
    SubscriberChannel.WEBHOOK: "webhook",
}
ONE_CLICK = "List-Unsubscribe=One-Click"
# Stands for the subscriber's own unsubscribe URL in a message composed once per language.
UNSUBSCRIBE_PLACEHOLDER = "@@FIRSTWORD_UNSUBSCRIBE_URL@@"


@dataclass(frozen=True)
class Site:
    base_url: str
    brand: str

    @classmethod
    def of(cls, settings: Settings) -> Site:
        return cls(base_url=settings.public_base_url.rstrip("/"), brand=settings.retailer_name)

    def page_url(self, lang: str, anchor: str = "") -> str:
        return f"{self.base_url}/?lang={lang}" + (f"#{anchor}" if anchor else "")


@cache
def _mail_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(MAIL_TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsubscribe_token(secret_key: str, public_id: str) -> str:
    """`<public id>.<first 144 bits of HMAC-SHA256(secret, public id)>`: derived, not stored,
    because every message carries it."""
    mac = hmac.new(secret_key.encode(), f"firstword-unsubscribe:{public_id}".encode(), "sha256")
    return f"{public_id}.{_b64(mac.digest()[:18])}"


def unsubscribe_url(site: Site, secret_key: str, public_id: str) -> str:
    return f"{site.base_url}/unsubscribe/{unsubscribe_token(secret_key, public_id)}"


def _render(name: str, **values: Any) -> str:
    return _mail_environment().get_template(name).render(**values)


def _email(
    name: str, *, lang: str, subject: str, unsubscribe_url: str, **values: Any
) -> dict[str, Any]:
    common = {"t": texts(lang), "lang": lang, "unsubscribe_url": unsubscribe_url, **values}
    return {
        "subject": subject,
        "text": _render(f"{name}.txt", **common),
        "html": _render(f"{name}.html", **common),
        "headers": {
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": ONE_CLICK,
        },
    }


def _one_line(text: str) -> str:
    """Subjects and SMS are one line: staff text with line breaks is joined up."""
    return " ".join(text.split())


# --- confirmation -----------------------------------------------------------------------


def confirmation_email(
    site: Site,
    row: Subscriber,
    names: Sequence[str],
    confirm_url: str,
    unsubscribe_url: str,
) -> dict[str, Any]:
    t = texts(row.language)
    return _email(
        "confirm",
        lang=row.language,
        subject=t("mail.confirm.subject", brand=_one_line(site.brand)),
        unsubscribe_url=unsubscribe_url,
        site=site,
        confirm_url=confirm_url,
        names=list(names),
    )


def confirmation_sms(site: Site, lang: str, code: str) -> dict[str, Any]:
    return {"text": texts(lang)("sms.code", brand=_one_line(site.brand), code=code)}


def already_subscribed(site: Site, row: Subscriber, unsubscribe_url: str) -> dict[str, Any]:
    t = texts(row.language)
    if row.channel == SubscriberChannel.SMS:
        return {"text": t("sms.already", brand=_one_line(site.brand), url=unsubscribe_url)}
    return _email(
        "already",
        lang=row.language,
        subject=t("mail.already.subject", brand=_one_line(site.brand)),
        unsubscribe_url=unsubscribe_url,
        site=site,
    )


def _page_object(site: Site) -> dict[str, Any]:
    return {"id": sid("page", site.base_url), "name": site.brand, "url": site.base_url}


def webhook_confirmation(
    site: Site,
    row: Subscriber,
    names: Sequence[str],
    confirm_url: str,
    unsubscribe_url: str,
    expires_at: datetime | None,
) -> dict[str, Any]:
    """The signed ping a webhook subscription starts with; the receiver confirms by POSTing
    to `subscription.confirm_url`."""
    return {
        "secret": row.secret,
        "body": {
            "meta": {"event": "subscription.confirm", "unsubscribe": unsubscribe_url},
            "page": _page_object(site),
            "subscription": {
                "confirm_url": confirm_url,
                "confirm_method": "POST",
                "expires_at": ts(expires_at),
                "language": row.language,
                "components": "all"
                if row.all_components
                else [c.component_key for c in row.components],
                "component_names": list(names),
            },
        },
    }


# --- incident updates -------------------------------------------------------------------


@dataclass
class UpdateMessages:
    """One public update, composed once per channel and language and then given each
    subscriber's own unsubscribe link."""

    site: Site
    incident: IncidentRead
    update: UpdateRead
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    def component_keys(self) -> set[str]:
        """Components the update concerns: the incident's and those the update lists."""
        return {c.key for c in self.incident.components} | set(self.update.component_statuses)

    def payload(
        self, channel: SubscriberChannel, lang: str, unsubscribe_url: str, secret: str | None
    ) -> dict[str, Any]:
        if channel is SubscriberChannel.EMAIL:
            mail = self._cached("email", lang, self._email)
            return {
                "subject": mail["subject"],
                "text": mail["text"].replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url),
                "html": mail["html"].replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url),
                "headers": {
                    "List-Unsubscribe": f"<{unsubscribe_url}>",
                    "List-Unsubscribe-Post": ONE_CLICK,
                },
            }
        if channel is SubscriberChannel.SMS:
            return {"text": self._sms(lang, unsubscribe_url)}
        body = self._cached("webhook", "", lambda _lang: self._webhook_body())
        meta = {**body["meta"], "unsubscribe": unsubscribe_url}
        return {"secret": secret, "body": {**body, "meta": meta}}

    def _cached(self, channel: str, lang: str, build: Any) -> Any:
        key = (channel, lang)
        if key not in self._cache:
            self._cache[key] = build(lang)
        return self._cache[key]

    def _labels(self, lang: str) -> tuple[str, list[tuple[str, str]]]:
        translate = i18n.translations(lang).gettext
        state = translate(STATE_LABELS[self.update.state.value])
        names = {c.key: c.name for c in self.incident.components}
        affected = []
        for key, status in sorted(self.update.component_statuses.items()):
            label = STATUS_LABELS.get(str(status))
            affected.append(
                (translate(names.get(key, key)), translate(label) if label else str(status))
            )
        return state, affected

    def _email(self, lang: str) -> dict[str, Any]:
        t = texts(lang)
        state, affected = self._labels(lang)
        subject = t(
            "mail.update.subject",
            brand=_one_line(self.site.brand),
            state=state,
            title=_one_line(self.incident.title),
        )
        return _email(
            "update",
            lang=lang,
            subject=subject[:900],
            unsubscribe_url=UNSUBSCRIBE_PLACEHOLDER,
            site=self.site,
            incident=self.incident,
            update=self.update,
            state=state,
            affected=affected,
            posted=i18n.format_when(self.update.posted_at, lang),
            page_url=self.site.page_url(lang, self.incident.ref),
        )

    def _sms(self, lang: str, unsubscribe_url: str) -> str:
        t = texts(lang)
        state, _ = self._labels(lang)
        head = f"{_one_line(self.site.brand)}: {state}: {_one_line(self.incident.title)}"
        tail = f" {t('sms.more')} {self.site.page_url(lang)} {t('sms.stop')} {unsubscribe_url}"
        body = _one_line(self.update.body)
        room = MAX_TEXT_CHARS - len(head) - len(tail) - 2
        if room < 20:  # a very long title: keep the links, cut the title
            head = head[: max(20, MAX_TEXT_CHARS - len(tail) - 1)]
            return (head + tail)[:MAX_TEXT_CHARS]
        if len(body) > room:
            body = body[: room - 1].rstrip() + "…"
        return f"{head}. {body}{tail}"

    def _webhook_body(self) -> dict[str, Any]:
        incident = self.incident
        update = self.update
        statuses = [ComponentStatus(c.status) for c in incident.components]
        impact = incident_impact(incident.severity, worst(statuses))
        return {
            "meta": {
                "event": "incident.update",
                "unsubscribe": UNSUBSCRIBE_PLACEHOLDER,
            },
            "page": _page_object(self.site),
            "incident": {
                "id": incident.ref,
                "name": incident.title,
                "status": incident.state.value,
                "impact": impact.value,
                "shortlink": f"{self.site.base_url}/#{incident.ref}",
                "created_at": ts(incident.created_at),
                "updated_at": ts(incident.updated_at),
                "resolved_at": ts(incident.resolved_at),
                "customer_advice": incident.customer_advice,
                "components": [
                    {
                        "id": sid("component", c.key),
                        "key": c.key,
                        "name": c.name,
                        "status": ComponentStatus(c.status).value,
                    }
                    for c in incident.components
                ],
                "incident_updates": [
                    {
                        "id": sid("incident_update", str(update.id)),
                        "incident_id": incident.ref,
                        "status": update.state.value,
                        "body": update.body,
                        "created_at": ts(update.posted_at),
                        "updated_at": ts(update.posted_at),
                        "display_at": ts(update.posted_at),
                    }
                ],
            },
        }
