"""Public subscription pages (no JavaScript, rate-limited per client) and the staff count.

    GET  /subscribe                      the form (?channel=email|sms|webhook, ?component=key)
    POST /subscribe                      start a subscription; the same answer for every address
    POST /subscribe/verify               the 6-digit code of an SMS subscription
    GET  /subscribe/confirm/{token}      "confirm?" with a button (a link scanner confirms nothing)
    POST /subscribe/confirm/{token}      confirm (the button; a webhook receiver POSTs here)
    GET  /unsubscribe/{token}            "unsubscribe?" with a button (GET never unsubscribes)
    POST /unsubscribe/{token}            unsubscribe: the button and RFC 8058 one-click
                                         (`List-Unsubscribe=One-Click`; no CSRF token: the
                                         token in the URL is the credential)
    GET  /api/v1/statuspage/subscribers/summary   counts, for any signed-in staff member

Bad input gets the form back with a 422 and a message in the reader's language; nothing is
stored. Forms are read by hand (URL-encoded, at most 64 KB), so hostile bodies get that page
too rather than a JSON error.
"""

from __future__ import annotations

from itertools import groupby
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core.errors import InvalidInput
from firstword.incidents import service as incidents
from firstword.incidents.schemas import ComponentRead
from firstword.statuspage import subscriptions
from firstword.statuspage.public import choose_language
from firstword.statuspage.render import PAGE_CSP, PAGE_LANGUAGES, render_template
from firstword.statuspage.subscription_models import SubscriberChannel, SubscriberStatus
from firstword.statuspage.subscription_targets import MAX_EMAIL, MAX_URL, AddressProblem
from firstword.statuspage.subscription_text import texts
from firstword.web.deps import ClockDep, ContextDep, SessionDep, StaffDep
from firstword.web.security import rate_limited

router = APIRouter(tags=["status page subscriptions"])

MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 600
CHANNELS = [c.value for c in SubscriberChannel]
INPUTS = {  # channel -> (input type, autocomplete, maxlength)
    "email": ("email", "email", MAX_EMAIL),
    "sms": ("tel", "tel", 40),
    "webhook": ("url", "off", MAX_URL),
}
PAGE_LIMIT = Depends(rate_limited("public", "public_rate_limit_per_minute"))
SUBSCRIBE_LIMIT = Depends(rate_limited("subscribe", "subscribe_rate_limit_per_minute"))
Form = dict[str, list[str]]


async def small_form(request: Request) -> Form | None:
    """The URL-encoded form of a POST, or None when it is not one, is over 64 KB or is not
    UTF-8."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    if content_type != "application/x-www-form-urlencoded":
        return None
    try:
        return parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        return None


FormDep = Annotated[Form | None, Depends(small_form)]


def _first(form: Form | None, name: str, default: str = "") -> str:
    values = (form or {}).get(name)
    return values[0] if values else default


def _language(request: Request, wanted: str | None) -> str:
    return choose_language(wanted, request.headers.get("accept-language"), PAGE_LANGUAGES)


def _page(
    context: Context,
    name: str,
    *,
    lang: str,
    status: int = 200,
    lang_links: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    html = render_template(
        f"statuspage/{name}",
        lang=lang,
        settings=context.settings,
        t=texts(lang),
        lang_links=lang_links or {code: f"/subscribe?lang={code}" for code in PAGE_LANGUAGES},
        **values,
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "Content-Language": lang,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",  # token pages must not leak their URL
            "X-Robots-Tag": "noindex",
        },
    )


def _groups(session: Session) -> list[tuple[str, list[ComponentRead]]]:
    components = incidents.list_components(session)
    return [(group, list(items)) for group, items in groupby(components, key=lambda c: c.group)]


def _form_page(
    context: Context,
    session: Session,
    *,
    lang: str,
    channel: str,
    status: int = 200,
    address: str = "",
    scope: str = "all",
    chosen: list[str] | None = None,
    error: str = "",
    error_field: str = "",
) -> HTMLResponse:
    kind, autocomplete, maxlength = INPUTS[channel]
    return _page(
        context,
        "subscribe.html",
        lang=lang,
        status=status,
        lang_links={
            code: f"/subscribe?{urlencode({'lang': code, 'channel': channel})}"
            for code in PAGE_LANGUAGES
        },
        channel=channel,
        channels=CHANNELS,
        channel_links={
            c: f"/subscribe?{urlencode({'lang': lang, 'channel': c})}" for c in CHANNELS
        },
        input_type=kind,
        autocomplete=autocomplete,
        maxlength=maxlength,
        address=address,
        scope=scope,
        chosen=set(chosen or []),
        groups=_groups(session),
        error=error,
        error_field=error_field,
    )


@router.get("/subscribe", response_class=HTMLResponse, dependencies=[PAGE_LIMIT])
def subscribe_form(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    lang: Annotated[str | None, Query(max_length=35)] = None,
    channel: Annotated[str, Query(max_length=20)] = "email",
    component: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The subscribe form."""
    language = _language(request, lang)
    picked = [component] if component else []
    return _form_page(
        context,
        session,
        lang=language,
        channel=channel if channel in CHANNELS else "email",
        scope="some" if picked else "all",
        chosen=picked,
    )


@router.post("/subscribe", response_class=HTMLResponse, dependencies=[SUBSCRIBE_LIMIT])
def subscribe(
    request: Request, context: ContextDep, session: SessionDep, form: FormDep
) -> Response:
    """Start a subscription. The answer is the same whether or not the address is known."""
    lang = _language(request, _first(form, "lang") or None)
    t = texts(lang)
    channel = _first(form, "channel", "email")
    address = _first(form, "address")
    scope = _first(form, "scope", "all")
    chosen = (form or {}).get("components", []) if scope == "some" else []

    def again(code: str, field: str = "address") -> Response:
        return _form_page(
            context,
            session,
            lang=lang,
            channel=channel if channel in CHANNELS else "email",
            status=422,
            address=address[:2000],
            scope="some" if scope == "some" else "all",
            chosen=[c[:100] for c in chosen[:MAX_FORM_FIELDS]],
            error=t(f"error.{code}"),
            error_field=field,
        )

    if form is None:
        return again("form_invalid", "")
    if channel not in CHANNELS:
        return again("channel_unknown", "channel")
    if _first(form, "lang") and _first(form, "lang") not in PAGE_LANGUAGES:
        return again("language_unknown", "lang")
    if scope == "some" and not chosen:
        return again("components_missing", "components")
    if len(address) > 2000:
        return again(
            {"email": "email_too_long", "sms": "phone_invalid"}.get(channel, "url_too_long")
        )
    try:
        result = subscriptions.subscribe(
            session,
            clock=context.clock,
            settings=context.settings,
            secret_key=context.secret_key,
            data=subscriptions.SubscribeRequest(
                channel=SubscriberChannel(channel),
                address=address,
                components=[c for c in chosen if c][: subscriptions.MAX_COMPONENTS],
                language=lang,
            ),
        )
    except AddressProblem as problem:
        return again(problem.code, problem.field)
    except InvalidInput:
        return again("form_invalid", "")
    return _page(
        context,
        "subscribe_sent.html",
        lang=lang,
        channel=result.channel.value,
        address=result.address,
        secret=result.webhook_secret,
        error="",
    )


@router.post("/subscribe/verify", response_class=HTMLResponse, dependencies=[SUBSCRIBE_LIMIT])
def verify_code(
    request: Request, context: ContextDep, session: SessionDep, form: FormDep
) -> Response:
    """Confirm an SMS subscription with its 6-digit code."""
    lang = _language(request, _first(form, "lang") or None)
    phone = _first(form, "address")[:40]
    view = None
    if form is not None:
        try:
            view = subscriptions.verify_code(
                session,
                clock=context.clock,
                secret_key=context.secret_key,
                phone=phone,
                code=_first(form, "code")[:20],
            )
        except InvalidInput:
            view = None
    if view is None:
        return _page(
            context,
            "subscribe_sent.html",
            lang=lang,
            status=422,
            channel="sms",
            address=phone,
            secret=None,
            error=texts(lang)("code.invalid"),
        )
    return _page(context, "confirm_done.html", lang=lang, view=view)


def _token_links(request: Request) -> dict[str, str]:
    return {code: f"{request.url.path}?lang={code}" for code in PAGE_LANGUAGES}


def _names(session: Session, keys: list[str]) -> list[str]:
    by_key = {c.key: c.name for c in incidents.list_components(session)}
    return [by_key.get(k, k) for k in keys]


def _invalid(context: Context, request: Request, lang: str) -> Response:
    return _page(
        context, "confirm_invalid.html", lang=lang, status=404, lang_links=_token_links(request)
    )


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse, dependencies=[PAGE_LIMIT])
def confirm_page(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    clock: ClockDep,
    token: str,
    lang: Annotated[str | None, Query(max_length=35)] = None,
) -> Response:
    """Asks to confirm; changes nothing."""
    view = subscriptions.pending_for_token(session, clock=clock, token=token)
    language = _language(request, lang or (view.language if view else None))
    if view is None:
        return _invalid(context, request, language)
    return _page(
        context,
        "confirm.html",
        lang=language,
        lang_links=_token_links(request),
        view=view,
        names=_names(session, view.components),
        action=request.url.path,
    )


@router.post("/subscribe/confirm/{token}", response_class=HTMLResponse, dependencies=[PAGE_LIMIT])
def confirm(
    request: Request, context: ContextDep, session: SessionDep, clock: ClockDep, token: str
) -> Response:
    """Confirms an e-mail or webhook subscription."""
    view = subscriptions.confirm(session, clock=clock, token=token)
    language = _language(
        request, request.query_params.get("lang") or (view.language if view else None)
    )
    if view is None:
        return _invalid(context, request, language)
    return _page(context, "confirm_done.html", lang=language, view=view)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, dependencies=[PAGE_LIMIT])
def unsubscribe_page(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    token: str,
    lang: Annotated[str | None, Query(max_length=35)] = None,
) -> Response:
    """Asks to unsubscribe; changes nothing (mail scanners follow links)."""
    view = subscriptions.subscription_for_unsubscribe(
        session, secret_key=context.secret_key, token=token
    )
    language = _language(request, lang or (view.language if view else None))
    if view is None:
        return _invalid(context, request, language)
    name = (
        "unsubscribe_done.html"
        if view.status is SubscriberStatus.UNSUBSCRIBED
        else ("unsubscribe.html")
    )
    return _page(
        context,
        name,
        lang=language,
        lang_links=_token_links(request),
        view=view,
        action=request.url.path,
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, dependencies=[PAGE_LIMIT])
def unsubscribe(
    request: Request, context: ContextDep, session: SessionDep, clock: ClockDep, token: str
) -> Response:
    """Unsubscribes: the page's button, and RFC 8058 one-click POSTs from mail providers."""
    view = subscriptions.unsubscribe(
        session, clock=clock, secret_key=context.secret_key, token=token
    )
    language = _language(
        request, request.query_params.get("lang") or (view.language if view else None)
    )
    if view is None:
        return _invalid(context, request, language)
    return _page(context, "unsubscribe_done.html", lang=language, view=view)


@router.get(
    "/api/v1/statuspage/subscribers/summary",
    response_model=subscriptions.SubscriberSummary,
    tags=["status page subscriptions"],
)
def subscribers_summary(
    session: SessionDep, clock: ClockDep, _actor: StaffDep
) -> subscriptions.SubscriberSummary:
    """Subscriber counts: by status, confirmed per channel and per component, and how many
    unsubscribed in the last 7 days. Any signed-in staff member."""
    return subscriptions.subscriber_summary(session, clock=clock)
