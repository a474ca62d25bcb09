"""Administration commands: users, API tokens, the schema, the audit chain and the outbox.

firstword users create|list|set-roles|deactivate
firstword tokens issue|list|revoke
firstword db upgrade|current
firstword audit verify
firstword outbox status|dead|requeue
"""

from __future__ import annotations

from datetime import datetime, timedelta

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from firstword.clisupport import (
    cli_actor,
    console,
    err_console,
    get_context,
    handle_errors,
    settings,
    transaction,
)
from firstword.core import audit, outbox
from firstword.core.auth import service as auth
from firstword.core.auth.roles import Role
from firstword.core.db import make_engine
from firstword.core.errors import InvalidInput
from firstword.core.migrate import alembic_config, current_revision, upgrade

PASSWORD_ENV = "FIRSTWORD_ADMIN_PASSWORD"  # noqa: S105 - the variable name, not a secret
ROLE_NAMES = ", ".join(r.value for r in Role)

users_app = typer.Typer(help="Staff users and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="Scoped API tokens for machines.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
outbox_app = typer.Typer(help="Outgoing messages: queue depth, dead letters.", no_args_is_help=True)


def _add_row(table: Table, *cells: str) -> None:
    """Cells as plain text: "[red]" in a name or an error stays text, not Rich markup."""
    table.add_row(*(Text(cell) for cell in cells))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _age(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


# --- users ------------------------------------------------------------------------------------


@users_app.command("create")
@handle_errors
def users_create(
    email: str = typer.Option(..., "--email", help="Sign-in e-mail address."),
    name: str = typer.Option(..., "--name", help="Display name."),
    role: list[str] = typer.Option(
        [], "--role", help=f"A role to grant (repeatable): {ROLE_NAMES}."
    ),
    password: str | None = typer.Option(
        None,
        "--password",
        envvar=PASSWORD_ENV,
        show_envvar=True,
        help="The password (at least 12 characters). Prompted for, hidden and twice, when "
        f"neither this nor {PASSWORD_ENV} is given.",
    ),
) -> None:
    """Create a staff user; `--role admin` bootstraps the first administrator."""
    if not role:
        raise InvalidInput("--role", f"give at least one role: {ROLE_NAMES}")
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    ctx = get_context()
    with transaction() as session:
        user = auth.create_user(
            session,
            clock=ctx.clock,
            actor=cli_actor(),
            email=email,
            name=name,
            password=password,
            roles=role,
        )
    console.print(
        f"created user {user.id} {user.email} with roles {', '.join(user.roles)}",
        highlight=False,
        markup=False,
    )


@users_app.command("list")
@handle_errors
def users_list() -> None:
    """List staff users."""
    with transaction() as session:
        users = auth.list_users(session)
    table = Table("id", "e-mail", "name", "roles", "active", "created", "last sign-in")
    for user in users:
        _add_row(
            table,
            str(user.id),
            user.email,
            user.name,
            ", ".join(user.roles),
            "yes" if user.is_active else "no",
            _when(user.created_at),
            _when(user.last_login_at),
        )
    console.print(table)


@users_app.command("set-roles")
@handle_errors
def users_set_roles(
    email: str = typer.Argument(..., help="The user's e-mail address."),
    role: list[str] = typer.Option([], "--role", help=f"Role (repeatable): {ROLE_NAMES}."),
) -> None:
    """Replace a user's roles with the ones given."""
    if not role:
        raise InvalidInput("--role", f"give at least one role: {ROLE_NAMES}")
    ctx = get_context()
    with transaction() as session:
        user = auth.get_user_by_email(session, email)
        user = auth.set_roles(
            session, clock=ctx.clock, actor=cli_actor(), user_id=user.id, roles=role
        )
    console.print(
        f"{user.email} now has roles {', '.join(user.roles)}", highlight=False, markup=False
    )


@users_app.command("deactivate")
@handle_errors
def users_deactivate(email: str = typer.Argument(..., help="The user's e-mail address.")) -> None:
    """Stop a user signing in and end their browser sessions."""
    ctx = get_context()
    with transaction() as session:
        user = auth.get_user_by_email(session, email)
        auth.deactivate_user(session, clock=ctx.clock, actor=cli_actor(), user_id=user.id)
    console.print(f"deactivated {user.email}", highlight=False, markup=False)


# --- tokens -----------------------------------------------------------------------------------


@tokens_app.command("issue")
@handle_errors
def tokens_issue(
    user: str = typer.Option(..., "--user", help="E-mail of the user the token acts for."),
    name: str = typer.Option(..., "--name", help="What the token is for (shown in lists)."),
    scope: list[str] = typer.Option(
        [], "--scope", help=f"A role the token may use (repeatable): {ROLE_NAMES}."
    ),
    expires_days: int | None = typer.Option(
        None, "--expires-days", min=1, help="Expire after this many days (default: never)."
    ),
) -> None:
    """Issue an API token. It is printed once; only its hash is stored."""
    if not scope:
        raise InvalidInput("--scope", f"give at least one scope: {ROLE_NAMES}")
    ctx = get_context()
    with transaction() as session:
        owner = auth.get_user_by_email(session, user)
        issued = auth.issue_token(
            session,
            clock=ctx.clock,
            actor=cli_actor(),
            user_id=owner.id,
            name=name,
            scopes=scope,
            expires_in_days=expires_days,
        )
    err_console.print(
        f"token {issued.id} for {owner.email}, scopes {', '.join(issued.scopes)}, expires "
        f"{_when(issued.expires_at) if issued.expires_at else 'never'}. It is shown only once:",
        highlight=False,
        markup=False,
    )
    # The token alone on stdout, so that scripts can capture it.
    typer.echo(issued.token)


@tokens_app.command("list")
@handle_errors
def tokens_list(
    user: str | None = typer.Option(None, "--user", help="Only this user's tokens."),
) -> None:
    """List API tokens (prefixes only, never the secrets)."""
    with transaction() as session:
        owner_id = auth.get_user_by_email(session, user).id if user else None
        tokens = auth.list_tokens(session, user_id=owner_id)
    table = Table(
        "id", "name", "prefix", "user", "scopes", "created", "expires", "revoked", "last used"
    )
    for t in tokens:
        _add_row(
            table,
            str(t.id),
            t.name,
            t.prefix,
            t.user_email,
            ", ".join(t.scopes),
            _when(t.created_at),
            _when(t.expires_at),
            _when(t.revoked_at),
            _when(t.last_used_at),
        )
    console.print(table)


@tokens_app.command("revoke")
@handle_errors
def tokens_revoke(token_id: int = typer.Argument(..., help="The token's id.")) -> None:
    """Revoke an API token at once."""
    ctx = get_context()
    with transaction() as session:
        auth.revoke_token(session, clock=ctx.clock, actor=cli_actor(), token_id=token_id)
    console.print(f"revoked token {token_id}", highlight=False, markup=False)


# --- db ---------------------------------------------------------------------------------------


def _head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    engine = make_engine(settings().sqlalchemy_url)
    try:
        return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    finally:
        engine.dispose()


@db_app.command("upgrade")
@handle_errors
def db_upgrade() -> None:
    """Apply pending migrations (every other command does this too on start)."""
    engine = make_engine(settings().sqlalchemy_url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"schema already at {after}", highlight=False, markup=False)
    else:
        console.print(
            f"schema upgraded from {before or 'empty'} to {after}", highlight=False, markup=False
        )


@db_app.command("current")
@handle_errors
def db_current() -> None:
    """Show the schema revision of the database and whether it is the latest."""
    engine = make_engine(settings().sqlalchemy_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = _head_revision()
    state = "up to date" if current == head else "behind: run `firstword db upgrade`"
    console.print(
        f"database at {current or 'empty'}, latest {head} ({state})", highlight=False, markup=False
    )


# --- audit ------------------------------------------------------------------------------------


@audit_app.command("verify")
@handle_errors
def audit_verify() -> None:
    """Check the hash chain of the audit log; exit 1 naming the first bad entry."""
    with transaction() as session:
        total = int(session.scalar(select(func.count()).select_from(audit.AuditEntry)) or 0)
        with Progress(
            TextColumn("verifying audit log"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("verify", total=total)
            report = audit.verify_chain(
                session, on_progress=lambda done: progress.update(task, completed=done)
            )
    if report.ok:
        console.print(
            f"audit log intact: {report.entries} entries verified", highlight=False, markup=False
        )
        return
    err_console.print(
        f"[red]audit log broken at entry {report.first_bad_id}[/red] "
        f"(entry {report.entries} in order): {escape(report.reason)}",
        highlight=False,
    )
    raise typer.Exit(1)


# --- outbox -----------------------------------------------------------------------------------


@outbox_app.command("status")
@handle_errors
def outbox_status() -> None:
    """Messages by status, what is due, in flight and waiting to retry, and the oldest."""
    ctx = get_context()
    with transaction() as session:
        summary = outbox.summary(session, clock=ctx.clock)
    table = Table("", "messages")
    for status, count in summary.by_status.items():
        _add_row(table, status, str(count))
    _add_row(table, "pending: due now", str(summary.due_now))
    _add_row(table, "pending: being sent (leased)", str(summary.in_flight))
    _add_row(table, "pending: waiting to retry", str(summary.scheduled))
    _add_row(table, "oldest pending", _age(summary.oldest_pending_age(ctx.clock.now())))
    console.print(table)


@outbox_app.command("dead")
@handle_errors
def outbox_dead(
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many."),
) -> None:
    """List dead-lettered messages with their last error, most recent first."""
    with transaction() as session:
        rows = outbox.dead_letters(session, limit=limit)
        listed = [
            (r.id, r.channel, r.recipient, r.topic, r.reference, r.attempts, r.last_error or "")
            for r in rows
        ]
    if not listed:
        console.print("no dead letters")
        return
    table = Table("id", "channel", "recipient", "topic", "reference", "attempts", "last error")
    for row_id, channel, recipient, topic, reference, attempts, error in listed:
        _add_row(
            table,
            str(row_id),
            channel,
            recipient[:60],
            topic,
            reference,
            str(attempts),
            error[:300],
        )
    console.print(table)


@outbox_app.command("requeue")
@handle_errors
def outbox_requeue(message_id: int = typer.Argument(..., help="The dead message's id.")) -> None:
    """Give a dead-lettered message a fresh set of attempts (recorded in the audit log)."""
    ctx = get_context()
    with transaction() as session:
        row = outbox.requeue_dead(
            session, clock=ctx.clock, message_id=message_id, actor=cli_actor().label
        )
        channel = row.channel
    console.print(
        f"requeued message {message_id} ({channel}); a worker will send it",
        highlight=False,
        markup=False,
    )


def mount(app: typer.Typer) -> None:
    """Add the administration sub-apps to the root app."""
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")
    app.add_typer(outbox_app, name="outbox")
