"""Staff API for the signed-in user, staff users (admin only) and API tokens: /api/v1/..."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field

from firstword.core.auth import service as auth
from firstword.core.auth.roles import Actor, Role
from firstword.web.deps import ClockDep, SessionDep, StaffDep, require_role

ROLE_LIST = ", ".join(r.value for r in Role)


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. `forbidden`.")
    message: str = Field(description="What went wrong, for people.")
    field: str | None = Field(default=None, description="The input field at fault, if any.")


class ErrorOut(BaseModel):
    error: ErrorDetail


STAFF_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "No valid session cookie or Bearer token."},
    403: {
        "model": ErrorOut,
        "description": "Missing role, or a cookie-authenticated change without the "
        "X-CSRF-Token header.",
    },
}

router = APIRouter(responses=STAFF_ERRORS)

AdminDep = Annotated[Actor, Depends(require_role(Role.ADMIN))]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    roles: list[str]
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class MeOut(UserOut):
    acting_roles: list[str] = Field(
        description="Roles this request acts with: the user's roles for a browser session, "
        "the token's scopes (within the user's roles) for a Bearer token."
    )
    authenticated_by: Literal["session", "token"]


class UserCreateIn(_In):
    email: str = Field(max_length=320, examples=["ic@example.com"])
    name: str = Field(min_length=1, max_length=200, examples=["Alex Incident"])
    password: str = Field(
        min_length=12,
        max_length=1024,
        description="At least 12 characters; stored as an argon2id hash.",
    )
    roles: list[str] = Field(
        min_length=1, max_length=len(Role), description=f"One or more of: {ROLE_LIST}."
    )


class RolesIn(_In):
    roles: list[str] = Field(
        min_length=1,
        max_length=len(Role),
        description=f"The complete new set, one or more of: {ROLE_LIST}.",
    )


class TokenCreateIn(_In):
    name: str = Field(
        min_length=1,
        max_length=200,
        examples=["pagerduty bridge"],
        description="What the token is for; shown in token lists.",
    )
    scopes: list[str] = Field(
        min_length=1,
        max_length=len(Role),
        description="Roles the token may act with: a subset of the roles you act with now.",
    )
    user_id: int | None = Field(
        default=None, description="Admins only: issue for this user. Default: yourself."
    )
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Omit for a token that does not expire."
    )


class TokenIssuedOut(BaseModel):
    id: int
    name: str
    token: str = Field(
        description="The secret, shown this once. Send it as `Authorization: Bearer <token>`."
    )
    scopes: list[str]
    expires_at: datetime | None


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="Public part of the token (`fw_<prefix>_...`).")
    user_email: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@router.get(
    "/me",
    response_model=MeOut,
    tags=["me"],
    summary="Who am I",
    description="The user behind this session or token, and the roles it acts with.",
)
def read_me(actor: StaffDep, session: SessionDep) -> MeOut:
    assert actor.user_id is not None
    user = auth.get_user(session, actor.user_id)
    return MeOut(
        **UserOut.model_validate(user).model_dump(),
        acting_roles=sorted(actor.roles),
        authenticated_by="token" if actor.kind == "token" else "session",
    )


@router.get(
    "/users",
    response_model=list[UserOut],
    tags=["users"],
    summary="List staff users",
    description="Every staff user, active or not. Admin only.",
)
def list_users(_admin: AdminDep, session: SessionDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in auth.list_users(session)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    tags=["users"],
    summary="Create a staff user",
    description="Adds a user who can sign in at /console/login. Admin only.",
    responses={409: {"model": ErrorOut, "description": "The e-mail is taken."}},
)
def create_user(
    data: UserCreateIn, actor: AdminDep, session: SessionDep, clock: ClockDep
) -> UserOut:
    user = auth.create_user(
        session,
        clock=clock,
        actor=actor,
        email=data.email,
        name=data.name,
        password=data.password,
        roles=data.roles,
    )
    return UserOut.model_validate(user)


@router.patch(
    "/users/{user_id}/roles",
    response_model=UserOut,
    tags=["users"],
    summary="Replace a user's roles",
    description="Sets the user's roles to exactly the given set. Tokens of the user "
    "act with at most the new roles at once. Admin only; refused if it "
    "would leave no active admin.",
    responses={
        404: {"model": ErrorOut, "description": "No such user."},
        409: {"model": ErrorOut, "description": "Would leave no admin."},
    },
)
def set_user_roles(
    user_id: int, data: RolesIn, actor: AdminDep, session: SessionDep, clock: ClockDep
) -> UserOut:
    user = auth.set_roles(session, clock=clock, actor=actor, user_id=user_id, roles=data.roles)
    auth.ensure_an_admin_remains(session)
    return UserOut.model_validate(user)


@router.post(
    "/users/{user_id}/deactivate",
    response_model=UserOut,
    tags=["users"],
    summary="Deactivate a user",
    description="The user can no longer sign in; their browser sessions end and their "
    "tokens stop working. Admin only; refused for the last active admin.",
    responses={
        404: {"model": ErrorOut, "description": "No such user."},
        409: {"model": ErrorOut, "description": "Would leave no admin."},
    },
)
def deactivate_user(user_id: int, actor: AdminDep, session: SessionDep, clock: ClockDep) -> UserOut:
    user = auth.deactivate_user(session, clock=clock, actor=actor, user_id=user_id)
    auth.ensure_an_admin_remains(session)
    return UserOut.model_validate(user)


@router.post(
    "/tokens",
    response_model=TokenIssuedOut,
    status_code=status.HTTP_201_CREATED,
    tags=["tokens"],
    summary="Issue an API token",
    description="A token for machines, sent as `Authorization: Bearer <token>`; it "
    "needs no CSRF header. Anyone may issue tokens for themselves with "
    "scopes among the roles they act with; admins may issue for any user "
    "(scopes within that user's roles). The secret is returned once.",
)
def issue_token(
    data: TokenCreateIn, actor: StaffDep, session: SessionDep, clock: ClockDep
) -> TokenIssuedOut:
    issued = auth.issue_token_as(
        session,
        clock=clock,
        actor=actor,
        user_id=data.user_id,
        name=data.name,
        scopes=data.scopes,
        expires_in_days=data.expires_in_days,
    )
    return TokenIssuedOut(
        id=issued.id,
        name=issued.name,
        token=issued.token,
        scopes=issued.scopes,
        expires_at=issued.expires_at,
    )


@router.get(
    "/tokens",
    response_model=list[TokenOut],
    tags=["tokens"],
    summary="List API tokens",
    description="Your own tokens; admins see every user's. Secrets are never shown.",
)
def list_tokens(actor: StaffDep, session: SessionDep) -> list[TokenOut]:
    user_id = None if Role.ADMIN in actor.roles else actor.user_id
    return [TokenOut.model_validate(t) for t in auth.list_tokens(session, user_id=user_id)]


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["tokens"],
    summary="Revoke an API token",
    description="The token stops working at once. Your own tokens; admins any.",
    responses={404: {"model": ErrorOut, "description": "No such token of yours."}},
)
def revoke_token(token_id: int, actor: StaffDep, session: SessionDep, clock: ClockDep) -> Response:
    auth.revoke_token_as(session, clock=clock, actor=actor, token_id=token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
