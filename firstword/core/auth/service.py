"""Users, sign-in sessions and API tokens. Services flush, never commit."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from firstword.core import audit
from firstword.core.auth.models import ApiToken, User, WebSession
from firstword.core.auth.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password
from firstword.core.auth.roles import Actor, Role
from firstword.core.clock import Clock
from firstword.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from firstword.core.ids import new_token, sha256_hex

TOKEN_PREFIX = "fw_"  # noqa: S105 - a public marker, not a secret


@dataclass(frozen=True)
class UserRead:
    id: int
    email: str
    name: str
    roles: list[str]
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


def _read(user: User) -> UserRead:
    return UserRead(
        user.id,
        user.email,
        user.name,
        list(user.roles),
        user.is_active,
        user.created_at,
        user.last_login_at,
    )


def _parse_roles(roles: list[str]) -> list[str]:
    if not roles:
        raise InvalidInput("roles", "at least one role is required")
    parsed = []
    for role in roles:
        try:
            parsed.append(Role(role).value)
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise InvalidInput("roles", f"unknown role {role!r}; one of: {allowed}") from None
    return sorted(set(parsed))


def normalise_email(email: str) -> str:
    value = email.strip().casefold()
    if "@" not in value or len(value) > 320 or value.startswith("@") or value.endswith("@"):
        raise InvalidInput("email", "not an e-mail address")
    return value


def create_user(
    session: Session,
    *,
    clock: Clock,
    actor: Actor,
    email: str,
    name: str,
    password: str,
    roles: list[str],
) -> UserRead:
    email = normalise_email(email)
    if len(password) < MIN_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_LENGTH} characters")
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("name", "must be 1 to 200 characters")
    if session.scalars(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict(f"a user with e-mail {email} exists already")
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password),
        roles=_parse_roles(roles),
        is_active=True,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        clock=clock,
        actor=actor.label,
        action="user.created",
        object_type="user",
        object_id=str(user.id),
        detail={"email": email, "roles": user.roles},
    )
    return _read(user)


def set_roles(
    session: Session, *, clock: Clock, actor: Actor, user_id: int, roles: list[str]
) -> UserRead:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    before = list(user.roles)
    user.roles = _parse_roles(roles)
    audit.record(
        session,
        clock=clock,
        actor=actor.label,
        action="user.roles_changed",
        object_type="user",
        object_id=str(user.id),
        detail={"before": before, "after": user.roles},
    )
    session.flush()
    return _read(user)


def deactivate_user(session: Session, *, clock: Clock, actor: Actor, user_id: int) -> UserRead:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    user.is_active = False
    now = clock.now()
    for web_session in session.scalars(
        select(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    ):
        web_session.revoked_at = now
    audit.record(
        session,
        clock=clock,
        actor=actor.label,
        action="user.deactivated",
        object_type="user",
        object_id=str(user.id),
        detail={},
    )
    session.flush()
    return _read(user)


def list_users(session: Session) -> list[UserRead]:
    return [_read(u) for u in session.scalars(select(User).order_by(User.id))]


def get_user(session: Session, user_id: int) -> UserRead:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return _read(user)


def count_users(session: Session) -> int:
    return len(session.scalars(select(User.id)).all())


def _actor_for(user: User) -> Actor:
    return Actor(
        kind="user", name=user.email, roles=frozenset(Role(r) for r in user.roles), user_id=user.id
    )


# --- browser sessions -------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    cookie_value: str
    csrf_token: str
    expires_at: datetime
    actor: Actor


def sign_in(session: Session, *, clock: Clock, email: str, password: str, hours: int) -> SignIn:
    """Check credentials and open a browser session. The same error for an unknown e-mail
    and a wrong password, and the same work done, so nothing tells which it was."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        email = ""
    user = session.scalars(select(User).where(User.email == email)).first() if email else None
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise InvalidInput("credentials", "e-mail or password is wrong")
    now = clock.now()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    raw = new_token()
    web_session = WebSession(
        token_hash=sha256_hex(raw),
        user_id=user.id,
        csrf_token=new_token(),
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(web_session)
    audit.record(
        session,
        clock=clock,
        actor=user.email,
        action="user.signed_in",
        object_type="user",
        object_id=str(user.id),
        detail={},
    )
    session.flush()
    return SignIn(raw, web_session.csrf_token, web_session.expires_at, _actor_for(user))


@dataclass(frozen=True)
class SessionIdentity:
    actor: Actor
    csrf_token: str


def resolve_session(session: Session, *, clock: Clock, cookie_value: str) -> SessionIdentity | None:
    web_session = session.scalars(
        select(WebSession).where(WebSession.token_hash == sha256_hex(cookie_value))
    ).first()
    if web_session is None or web_session.revoked_at is not None:
        return None
    if web_session.expires_at <= clock.now():
        return None
    user = session.get(User, web_session.user_id)
    if user is None or not user.is_active:
        return None
    return SessionIdentity(_actor_for(user), web_session.csrf_token)


def sign_out(session: Session, *, clock: Clock, cookie_value: str) -> None:
    web_session = session.scalars(
        select(WebSession).where(WebSession.token_hash == sha256_hex(cookie_value))
    ).first()
    if web_session is not None and web_session.revoked_at is None:
        web_session.revoked_at = clock.now()
        session.flush()


# --- API tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    id: int
    name: str
    token: str  # shown once
    scopes: list[str]
    expires_at: datetime | None


def issue_token(
    session: Session,
    *,
    clock: Clock,
    actor: Actor,
    user_id: int,
    name: str,
    scopes: list[str],
    expires_in_days: int | None = None,
) -> IssuedToken:
    """A token for machines, acting for `user_id` with at most the roles in `scopes`
    (and never more than the user holds)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    scopes = _parse_roles(scopes)
    if Role.ADMIN.value not in user.roles:
        extra = sorted(set(scopes) - set(user.roles))
        if extra:
            raise InvalidInput("scopes", f"user does not hold roles {extra}")
    if not name.strip() or len(name) > 200:
        raise InvalidInput("name", "must be 1 to 200 characters")
    now = clock.now()
    prefix = new_token(6)[:8]
    secret = new_token()
    raw = f"{TOKEN_PREFIX}{prefix}_{secret}"
    token = ApiToken(
        name=name.strip(),
        prefix=prefix,
        token_hash=sha256_hex(raw),
        user_id=user_id,
        scopes=scopes,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        clock=clock,
        actor=actor.label,
        action="token.issued",
        object_type="api_token",
        object_id=str(token.id),
        detail={"user_id": user_id, "name": token.name, "scopes": scopes},
    )
    return IssuedToken(token.id, token.name, raw, scopes, token.expires_at)


def revoke_token(session: Session, *, clock: Clock, actor: Actor, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} does not exist")
    token.revoked_at = clock.now()
    audit.record(
        session,
        clock=clock,
        actor=actor.label,
        action="token.revoked",
        object_type="api_token",
        object_id=str(token.id),
        detail={},
    )
    session.flush()


def resolve_token(session: Session, *, clock: Clock, raw: str) -> Actor | None:
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == sha256_hex(raw))).first()
    if token is None or not hmac.compare_digest(token.token_hash, sha256_hex(raw)):
        return None
    now = clock.now()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    held = set(user.roles)
    effective = set(token.scopes) if Role.ADMIN.value in held else set(token.scopes) & held
    token.last_used_at = now
    return Actor(
        kind="token",
        name=f"token:{token.prefix}({user.email})",
        roles=frozenset(Role(r) for r in effective),
        user_id=user.id,
    )


# --- lookups for the admin CLI (added for `firstword users` / `firstword tokens`) -------------


def get_user_by_email(session: Session, email: str) -> UserRead:
    """The user with this e-mail address (case-insensitive)."""
    normalised = normalise_email(email)
    user = session.scalars(select(User).where(User.email == normalised)).first()
    if user is None:
        raise NotFound(f"no user with e-mail {normalised}")
    return _read(user)


@dataclass(frozen=True)
class TokenRead:
    """A token as listed: never the secret, only its public prefix."""

    id: int
    name: str
    prefix: str
    user_email: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def list_tokens(session: Session, *, user_id: int | None = None) -> list[TokenRead]:
    query = select(ApiToken, User.email).join(User, User.id == ApiToken.user_id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return [
        TokenRead(
            t.id,
            t.name,
            t.prefix,
            email,
            list(t.scopes),
            t.created_at,
            t.expires_at,
            t.revoked_at,
            t.last_used_at,
        )
        for t, email in session.execute(query.order_by(ApiToken.id)).all()
    ]


# --- the staff policy for issuing/revoking tokens (web and API) ---------------------------


def issue_token_as(
    session: Session,
    *,
    clock: Clock,
    actor: Actor,
    user_id: int | None,
    name: str,
    scopes: list[str],
    expires_in_days: int | None = None,
) -> IssuedToken:
    """`issue_token` under the staff policy: an admin may issue for any user; anyone else
    only for themselves (`user_id` None means the actor's own user), and never with a role
    the actor is not acting with now, so a viewer-scoped token cannot mint an admin one."""
    if actor.user_id is None and user_id is None:
        raise InvalidInput("user_id", "say which user the token acts for")
    target = actor.user_id if user_id is None else user_id
    assert target is not None
    if Role.ADMIN not in actor.roles:
        if target != actor.user_id:
            raise Forbidden("only an admin may issue tokens for another user")
        extra = sorted(set(_parse_roles(scopes)) - {r.value for r in actor.roles})
        if extra:
            raise InvalidInput("scopes", f"you do not act with the roles {extra}")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput("expires_in_days", "must be between 1 and 3650 days")
    return issue_token(
        session,
        clock=clock,
        actor=actor,
        user_id=target,
        name=name,
        scopes=scopes,
        expires_in_days=expires_in_days,
    )


def revoke_token_as(session: Session, *, clock: Clock, actor: Actor, token_id: int) -> TokenRead:
    """`revoke_token` under the staff policy: admins revoke any token, others their own.
    Someone else's token is reported as not existing (ids reveal nothing)."""
    token = session.get(ApiToken, token_id)
    if token is None or (Role.ADMIN not in actor.roles and token.user_id != actor.user_id):
        raise NotFound(f"token {token_id} does not exist")
    if token.revoked_at is None:
        revoke_token(session, clock=clock, actor=actor, token_id=token_id)
    return next(t for t in list_tokens(session, user_id=token.user_id) if t.id == token_id)


def count_active_admins(session: Session) -> int:
    """Active users holding the admin role (`firstword serve` hints when there are none)."""
    users = session.scalars(select(User).where(User.is_active.is_(True))).all()
    return sum(1 for u in users if Role.ADMIN.value in u.roles)


def ensure_an_admin_remains(session: Session) -> None:
    """Refuse a change that would leave no active admin (call it after the change; the
    caller's transaction then rolls the change back)."""
    session.flush()
    if count_active_admins(session) == 0:
        raise Conflict("this would leave no active admin; make someone else admin first")
