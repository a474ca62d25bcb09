"""E-mail over SMTP.

The message's Message-ID is derived from its outbox idempotency key, so a repeat sent after a
worker crash carries the same Message-ID (and `X-Firstword-Idempotency-Key`) as the first try:
mail systems and mail clients that de-duplicate on Message-ID drop it.

Failure classes follow RFC 5321: a 5xx reply to RCPT or DATA (or to MAIL FROM) is permanent
for this message; 4xx replies, refused or dropped connections, timeouts, TLS and
authentication problems are transient (they are usually our configuration or the server's
load, and fixing them should let the queued messages through, not dead-letter them).
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, getaddresses, parseaddr
from pathlib import Path
from typing import Any

from firstword.core.channels.base import DeliveryResult, OutboundMessage, Outcome
from firstword.core.ids import sha256_hex
from firstword.core.settings import Settings

TIMEOUT_SECONDS = 30.0
IDEMPOTENCY_HEADER = "X-Firstword-Idempotency-Key"

# Headers the channel sets itself; a payload may not override them.
_RESERVED_HEADERS = frozenset(
    h.casefold()
    for h in (
        "From",
        "Sender",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Return-Path",
        IDEMPOTENCY_HEADER,
    )
)


class RefusedMessage(ValueError):
    """The message itself is unsendable (bad address, header injection): never retry."""


def message_id_for(idempotency_key: str, mail_from: str) -> str:
    """`<first 32 hex of sha256(key)@domain of mail_from>`: the same key, the same Message-ID."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{sha256_hex(idempotency_key)[:32]}@{domain}>"


def _no_line_breaks(field: str, value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise RefusedMessage(f"{field} contains a line break (header injection refused)")
    return value


def _single_address(recipient: str) -> tuple[str, str]:
    """(display name, address) of exactly one recipient."""
    _no_line_breaks("recipient", recipient)
    found = getaddresses([recipient])
    if len(found) != 1:
        raise RefusedMessage("recipient must be exactly one e-mail address")
    name, address = found[0]
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or " " in address or "@" in local or "," in address:
        raise RefusedMessage(f"recipient {recipient!r} is not an e-mail address")
    return name, address


def _valid_header_name(name: str) -> bool:
    # RFC 5322 field-name: printable US-ASCII except colon.
    return bool(name) and all(33 <= ord(ch) <= 126 and ch != ":" for ch in name)


def build_email(message: OutboundMessage, *, mail_from: str) -> EmailMessage:
    """The RFC 5322 message for one outbox row; raises RefusedMessage when it cannot be sent."""
    payload: dict[str, Any] = message.payload
    subject = payload.get("subject")
    text = payload.get("text")
    if not isinstance(subject, str) or not subject.strip():
        raise RefusedMessage("payload.subject is missing")
    if not isinstance(text, str):
        raise RefusedMessage("payload.text is missing")
    _no_line_breaks("subject", subject)
    name, address = _single_address(message.recipient)

    email = EmailMessage(policy=SMTP)
    email["From"] = mail_from
    try:
        email["To"] = Address(display_name=name, addr_spec=address) if name else address
    except (ValueError, IndexError) as exc:  # the header parser's complaint about the address
        raise RefusedMessage(f"recipient {message.recipient!r} is not valid: {exc}") from None
    email["Subject"] = subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message_id_for(message.idempotency_key, mail_from)
    email[IDEMPOTENCY_HEADER] = _no_line_breaks("idempotency key", message.idempotency_key)
    extra = payload.get("headers") or {}
    if not isinstance(extra, dict):
        raise RefusedMessage("payload.headers must be an object of header name to value")
    for header, value in extra.items():
        if not isinstance(header, str) or not _valid_header_name(header):
            raise RefusedMessage(f"header name {header!r} is not valid")
        if header.casefold() in _RESERVED_HEADERS:
            raise RefusedMessage(f"header {header} is set by the channel and cannot be overridden")
        email[header] = _no_line_breaks(f"header {header}", str(value))
    email.set_content(text)
    html = payload.get("html")
    if html:
        email.add_alternative(str(html), subtype="html")
    return email


def _reply(code: int, text: bytes | str) -> str:
    body = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {body}".strip()


def _by_code(code: int, what: str, reply: str) -> DeliveryResult:
    outcome = Outcome.PERMANENT if 500 <= code < 600 else Outcome.TRANSIENT
    return DeliveryResult(outcome, f"{what}: {reply}"[:2000])


class SmtpChannel:
    """Sends `{"subject", "text", optional "html", optional "headers"}` payloads to one
    recipient address through the configured SMTP server (or, with
    FIRSTWORD_MAIL_TRANSPORT=file, writes them as .eml files into DATA_DIR/mail/)."""

    name = "smtp"

    def __init__(
        self, *, settings: Settings, secret_key: str = "", timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.settings = settings
        self.timeout = timeout

    def send(self, message: OutboundMessage) -> DeliveryResult:
        try:
            email = build_email(message, mail_from=self.settings.mail_from)
        except RefusedMessage as exc:
            return DeliveryResult(Outcome.PERMANENT, f"refused: {exc}")
        message_id = str(email["Message-ID"])
        if self.settings.mail_transport == "file":
            return self._write_file(email, message_id)
        envelope_from = parseaddr(self.settings.mail_from)[1] or self.settings.mail_from
        envelope_to = _single_address(message.recipient)[1]
        try:
            self._transmit(email, envelope_from, envelope_to)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (451, b"refused"))
            return _by_code(code, "recipient refused", _reply(code, text))
        except smtplib.SMTPSenderRefused as exc:
            return _by_code(exc.smtp_code, "sender refused", _reply(exc.smtp_code, exc.smtp_error))
        except smtplib.SMTPDataError as exc:
            return _by_code(exc.smtp_code, "message refused", _reply(exc.smtp_code, exc.smtp_error))
        except smtplib.SMTPResponseException as exc:
            # Greeting, HELO, AUTH, STARTTLS: the server or our configuration, not the message.
            reply = _reply(exc.smtp_code, exc.smtp_error)
            return DeliveryResult(Outcome.TRANSIENT, f"SMTP error: {reply}"[:2000])
        except smtplib.SMTPNotSupportedError as exc:
            return DeliveryResult(Outcome.TRANSIENT, f"SMTP server lacks a feature: {exc}")
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, TLS
            return DeliveryResult(
                Outcome.TRANSIENT,
                f"cannot reach SMTP server {self.settings.smtp_host}:{self.settings.smtp_port}: "
                f"{type(exc).__name__}: {exc}"[:2000],
            )
        return DeliveryResult(Outcome.DELIVERED, "accepted by SMTP server", provider_id=message_id)

    def _write_file(self, email: EmailMessage, message_id: str) -> DeliveryResult:
        """FIRSTWORD_MAIL_TRANSPORT=file: the message as DATA_DIR/mail/<Message-ID>.eml,
        written atomically (a reader never sees half a file; a repeat replaces the first)."""
        folder = self.settings.data_dir / "mail"
        name = "".join(c for c in message_id.strip("<>") if c.isalnum() or c in "@._-")
        target = folder / f"{name or 'message'}.eml"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(email.as_bytes())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            return DeliveryResult(
                Outcome.TRANSIENT, f"cannot write {target}: {type(exc).__name__}: {exc}"[:2000]
            )
        return DeliveryResult(Outcome.DELIVERED, f"written to {target}", provider_id=message_id)

    def _transmit(self, email: EmailMessage, envelope_from: str, envelope_to: str) -> None:
        settings = self.settings
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(email, from_addr=envelope_from, to_addrs=[envelope_to])
        finally:
            # Once DATA is accepted the message is delivered: a failing QUIT must neither
            # turn that into a retry nor mask the error that brought us here.
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
