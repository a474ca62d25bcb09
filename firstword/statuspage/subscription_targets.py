"""Checking what the public types into the subscribe form: e-mail addresses, phone numbers
and webhook URLs, each normalised to the one form that is stored and hashed.

* E-mail: email-validator's syntax check (no DNS lookup: the confirmation e-mail is the
  deliverability check), at most 254 characters, ASCII on the wire (an internationalised
  domain becomes its xn-- form).
* Phone: phonenumbers, international format (+ or 00 and the country code), stored as E.164;
  numbers that cannot take a text message (landlines, premium rate...) are refused.
* Webhook: http or https only, no user name or password in the URL, and every address the
  host resolves to (socket.getaddrinfo) must be a public one: loopback, private, link-local,
  multicast, reserved and unspecified addresses are refused against SSRF, unless
  FIRSTWORD_WEBHOOK_ALLOW_PRIVATE_TARGETS is set. The check runs when the subscription is
  made; the webhook channel does not repeat it when delivering (it does not follow
  redirects), so a host that later re-points its DNS to a private address is not caught.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from firstword.core.errors import InvalidInput
from firstword.core.ids import sha256_hex
from firstword.statuspage.subscription_models import SubscriberChannel

MAX_EMAIL = 254
MAX_PHONE_INPUT = 40
MAX_URL = 500

Resolver = Callable[..., list[tuple[Any, ...]]]

# Number types that cannot receive a text message.
_NO_SMS = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
        phonenumbers.PhoneNumberType.VOICEMAIL,
    }
)


class AddressProblem(InvalidInput):
    """Bad input with a stable `code`, so the public pages can say it in the reader's
    language (subscription_text has a message per code)."""

    def __init__(self, field: str, code: str, reason: str) -> None:
        super().__init__(field, reason)
        self.code = code


def _no_controls(field: str, value: str, code: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise AddressProblem(field, code, "must not contain line breaks or control characters")


def normalise_email(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise AddressProblem("address", "address_missing", "enter an e-mail address")
    if len(value) > MAX_EMAIL:
        raise AddressProblem(
            "address", "email_too_long", f"an e-mail address has at most {MAX_EMAIL} characters"
        )
    _no_controls("address", value, "email_invalid")
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressProblem("address", "email_invalid", f"not an e-mail address: {exc}") from None
    address = result.ascii_email or result.normalized
    if len(address) > MAX_EMAIL:
        raise AddressProblem(
            "address", "email_too_long", f"an e-mail address has at most {MAX_EMAIL} characters"
        )
    return address


def normalise_phone(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise AddressProblem("address", "address_missing", "enter a mobile phone number")
    if len(value) > MAX_PHONE_INPUT:
        raise AddressProblem("address", "phone_invalid", "not a phone number")
    _no_controls("address", value, "phone_invalid")
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise AddressProblem(
            "address",
            "phone_invalid",
            "not a phone number in international format (+ and the country code)",
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise AddressProblem("address", "phone_invalid", "not a valid phone number")
    if phonenumbers.number_type(number) in _NO_SMS:
        raise AddressProblem(
            "address", "phone_not_mobile", "this number cannot receive text messages"
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def refused_address(address: str) -> str | None:
    """Why an IP address is not a public one (None when it is)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        ("loopback", ip.is_loopback),
        ("private", ip.is_private),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("unspecified", ip.is_unspecified),
        ("not globally routable", not ip.is_global),
    )
    for name, hit in checks:
        if hit:
            return (
                f"{ip} is a {name} address"
                if name != "not globally routable"
                else f"{ip} is {name}"
            )
    return None


def normalise_webhook_url(raw: str, *, allow_private: bool, resolve: Resolver | None = None) -> str:
    value = raw.strip()
    if not value:
        raise AddressProblem("address", "address_missing", "enter the URL of your webhook")
    if len(value) > MAX_URL:
        raise AddressProblem("address", "url_too_long", f"a URL has at most {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise AddressProblem("address", "url_invalid", "a URL has no spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise AddressProblem("address", "url_invalid", f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressProblem("address", "url_scheme", "only http:// and https:// URLs are allowed")
    host = (parts.hostname or "").lower()
    if not host:
        raise AddressProblem("address", "url_invalid", "the URL has no host name")
    if parts.username is not None or parts.password is not None:
        raise AddressProblem(
            "address", "url_credentials", "put no user name or password in the URL"
        )
    if not allow_private:
        _check_public(host, port or (443 if scheme == "https" else 80), resolve)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _check_public(host: str, port: int, resolve: Resolver | None) -> None:
    lookup = resolve or socket.getaddrinfo
    try:
        found = lookup(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise AddressProblem(
            "address", "url_unresolvable", f"the host name {host!r} does not resolve"
        ) from None
    addresses = sorted({str(info[4][0]) for info in found})
    if not addresses:
        raise AddressProblem(
            "address", "url_unresolvable", f"the host name {host!r} does not resolve"
        )
    for address in addresses:
        problem = refused_address(address)
        if problem:
            raise AddressProblem(
                "address",
                "url_private",
                f"webhooks must go to a public address; {host} resolves to {problem}",
            )


def normalise(
    channel: SubscriberChannel, raw: str, *, allow_private: bool, resolve: Resolver | None = None
) -> str:
    """The stored form of `raw` for `channel`; raises AddressProblem naming what is wrong."""
    if channel is SubscriberChannel.EMAIL:
        return normalise_email(raw)
    if channel is SubscriberChannel.SMS:
        return normalise_phone(raw)
    return normalise_webhook_url(raw, allow_private=allow_private, resolve=resolve)


def address_hash(channel: SubscriberChannel | str, address: str) -> str:
    """The unique lookup key: SHA-256 of "<channel>:<address>" (e-mail compared without
    case: nobody runs mailboxes that differ only in the case of the local part)."""
    key = address.lower() if channel == SubscriberChannel.EMAIL else address
    return sha256_hex(f"{SubscriberChannel(channel).value}:{key}")


def masked(channel: SubscriberChannel | str, address: str) -> str:
    """What a page may show of an address: enough to recognise it, not enough to harvest."""
    if channel == SubscriberChannel.EMAIL:
        local, _, domain = address.partition("@")
        return f"{local[:1]}…@{domain}"
    if channel == SubscriberChannel.SMS:
        return f"{address[:3]}…{address[-2:]}"
    parts = urlsplit(address)
    return f"{parts.scheme}://{parts.netloc}/…"
