"""The admin CLI end to end on SQLite in a temporary data directory: users, tokens, the schema,
the audit chain, the outbox (and `firstword worker` in-process)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

import firstword.clisupport as clisupport
from firstword.cli import app
from firstword.core import audit, outbox
from firstword.core.auth import service as auth
from firstword.core.db import transaction

PASSWORD = "a long enough password"
Invoke = Callable[..., Result]


def _reset() -> None:
    if clisupport._context is not None:
        clisupport._context.close()
    clisupport._context = None
    clisupport._overrides.clear()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "data"
    for name in ("FIRSTWORD_DATABASE_URL", "FIRSTWORD_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FIRSTWORD_DATA_DIR", str(path))
    monkeypatch.setenv("FIRSTWORD_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("COLUMNS", "200")  # Rich tables unwrapped, so assertions see rows
    _reset()
    yield path
    _reset()


@pytest.fixture
def cli(data_dir: Path) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        _reset()  # each invocation is a fresh process as far as the CLI knows
        return runner.invoke(app, list(args), input=input, env=env)

    return invoke


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def _fails(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    for fragment in fragments:
        assert fragment in result.output


def _make_admin(cli: Invoke, email: str = "admin@example.com") -> None:
    _ok(
        cli(
            "users",
            "create",
            "--email",
            email,
            "--name",
            "Ada Admin",
            "--role",
            "admin",
            "--password",
            PASSWORD,
        )
    )


def test_users_create_bootstraps_the_first_admin_who_can_sign_in(cli: Invoke) -> None:
    out = _ok(
        cli(
            "users",
            "create",
            "--email",
            "Ada@Example.COM",
            "--name",
            "Ada Admin",
            "--role",
            "admin",
            "--password",
            PASSWORD,
        )
    )
    assert "created user 1 ada@example.com with roles admin" in out
    listing = _ok(cli("users", "list"))
    assert "ada@example.com" in listing and "Ada Admin" in listing
    ctx = clisupport.get_context()
    with transaction(ctx.sessionmaker) as session:
        signed_in = auth.sign_in(
            session, clock=ctx.clock, email="ada@example.com", password=PASSWORD, hours=1
        )
    assert {r.value for r in signed_in.actor.roles} == {"admin"}


def test_users_create_prompts_twice_for_a_hidden_password(cli: Invoke) -> None:
    result = cli(
        "users",
        "create",
        "--email",
        "ic@example.com",
        "--name",
        "Ian Commander",
        "--role",
        "incident_commander",
        "--role",
        "communications",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    out = _ok(result)
    assert "Repeat for confirmation" in out
    assert PASSWORD not in out
    assert "roles communications, incident_commander" in out


def test_users_create_takes_the_password_from_the_environment(cli: Invoke) -> None:
    out = _ok(
        cli(
            "users",
            "create",
            "--email",
            "bot@example.com",
            "--name",
            "Scripted",
            "--role",
            "admin",
            env={"FIRSTWORD_ADMIN_PASSWORD": PASSWORD},
        )
    )
    assert "created user 1 bot@example.com" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "admin", "--password", "short"], "password: must be at least 12 characters"),
        (["--role", "overlord", "--password", PASSWORD], "unknown role 'overlord'"),
        (["--password", PASSWORD], "--role: give at least one role"),
    ],
)
def test_users_create_rejects_bad_input_with_a_clear_error(
    cli: Invoke, args: list[str], message: str
) -> None:
    _fails(cli("users", "create", "--email", "x@example.com", "--name", "X", *args), message)
    assert "x@example.com" not in _ok(cli("users", "list"))


def test_users_create_refuses_a_duplicate(cli: Invoke) -> None:
    _make_admin(cli)
    _fails(
        cli(
            "users",
            "create",
            "--email",
            "ADMIN@example.com",
            "--name",
            "Again",
            "--role",
            "viewer",
            "--password",
            PASSWORD,
        ),
        "exists already",
    )


def test_set_roles_and_deactivate(cli: Invoke) -> None:
    _make_admin(cli)
    _ok(
        cli(
            "users",
            "create",
            "--email",
            "cs@example.com",
            "--name",
            "[red]Cara[/red]",
            "--role",
            "viewer",
            "--password",
            PASSWORD,
        )
    )
    out = _ok(
        cli(
            "users", "set-roles", "cs@example.com", "--role", "customer_service", "--role", "viewer"
        )
    )
    assert "cs@example.com now has roles customer_service, viewer" in out
    _ok(cli("users", "deactivate", "CS@example.com"))
    listing = _ok(cli("users", "list"))
    assert "[red]Cara[/red]" in listing  # stored text, not Rich markup
    ctx = clisupport.get_context()
    with transaction(ctx.sessionmaker) as session:
        user = auth.get_user_by_email(session, "cs@example.com")
    assert user.roles == ["customer_service", "viewer"] and not user.is_active
    _fails(cli("users", "deactivate", "nobody@example.com"), "no user with e-mail")


def test_tokens_issue_prints_the_token_once_and_revoke_stops_it(cli: Invoke) -> None:
    _make_admin(cli)
    result = cli(
        "tokens",
        "issue",
        "--user",
        "admin@example.com",
        "--name",
        "status feed",
        "--scope",
        "communications",
        "--expires-days",
        "30",
    )
    _ok(result)
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("fw_")
    assert "shown only once" in result.stderr
    ctx = clisupport.get_context()
    with transaction(ctx.sessionmaker) as session:
        actor = auth.resolve_token(session, clock=ctx.clock, raw=token)
    assert actor is not None and {r.value for r in actor.roles} == {"communications"}

    listing = _ok(cli("tokens", "list"))
    assert "status feed" in listing and token not in listing
    _ok(cli("tokens", "revoke", "1"))
    ctx = clisupport.get_context()
    with transaction(ctx.sessionmaker) as session:
        assert auth.resolve_token(session, clock=ctx.clock, raw=token) is None
    _fails(cli("tokens", "revoke", "42"), "token 42 does not exist")


def test_tokens_cannot_exceed_the_users_roles(cli: Invoke) -> None:
    _ok(
        cli(
            "users",
            "create",
            "--email",
            "v@example.com",
            "--name",
            "Viewer",
            "--role",
            "viewer",
            "--password",
            PASSWORD,
        )
    )
    _fails(
        cli("tokens", "issue", "--user", "v@example.com", "--name", "sneaky", "--scope", "admin"),
        "does not hold roles",
    )


def test_db_current_and_upgrade(cli: Invoke) -> None:
    assert "database at empty" in _ok(cli("db", "current"))
    assert "behind" in _ok(cli("db", "current"))
    assert "schema upgraded from empty to" in _ok(cli("db", "upgrade"))
    assert "up to date" in _ok(cli("db", "current"))
    assert "schema already at" in _ok(cli("db", "upgrade"))


def test_audit_verify_passes_then_detects_a_tampered_row(cli: Invoke, data_dir: Path) -> None:
    _make_admin(cli)
    _ok(
        cli(
            "users",
            "create",
            "--email",
            "l@example.com",
            "--name",
            "Lee Legal",
            "--role",
            "legal",
            "--password",
            PASSWORD,
        )
    )
    _ok(cli("users", "set-roles", "l@example.com", "--role", "viewer"))
    assert "audit log intact: 3 entries verified" in _ok(cli("audit", "verify"))
    _reset()
    with sqlite3.connect(data_dir / "firstword.db") as db:  # someone edits history
        db.execute("""UPDATE audit_log SET detail = '{"email":"l@example.com","roles":["admin"]}'
                      WHERE id = 2""")
    _fails(cli("audit", "verify"), "audit log broken at entry 2", "does not match its hash")


def test_audit_verify_detects_a_deleted_row(cli: Invoke, data_dir: Path) -> None:
    _make_admin(cli)
    _ok(cli("users", "set-roles", "admin@example.com", "--role", "admin", "--role", "legal"))
    _ok(cli("users", "set-roles", "admin@example.com", "--role", "admin"))
    _reset()
    with sqlite3.connect(data_dir / "firstword.db") as db:
        db.execute("DELETE FROM audit_log WHERE id = 2")
    _fails(cli("audit", "verify"), "audit log broken at entry 3")


def test_outbox_status_dead_and_requeue(cli: Invoke) -> None:
    ctx = clisupport.get_context()
    with transaction(ctx.sessionmaker) as session:
        for key, channel in (("a", "carrier-pigeon"), ("b", "carrier-pigeon")):
            outbox.enqueue(
                session,
                clock=ctx.clock,
                channel=channel,
                recipient="loft 7",
                payload={"text": "hi"},
                idempotency_key=key,
            )
    status = _ok(cli("outbox", "status"))
    assert "pending" in status and "due now" in status
    assert "no dead letters" in _ok(cli("outbox", "dead"))

    result = cli("worker", "--once", "--poll-interval", "0.05")
    _ok(result)
    assert "outcome=permanent status=dead" in result.stderr
    assert "0 delivered, 0 to retry, 2 dead-lettered" in result.stderr

    dead = _ok(cli("outbox", "dead"))
    assert "carrier-pigeon" in dead and "no channel named" in dead
    assert _ok(cli("outbox", "requeue", "1")).startswith("requeued message 1 (carrier-pigeon)")
    _fails(cli("outbox", "requeue", "1"), "outbox message 1 is pending, not dead")
    _fails(cli("outbox", "requeue", "99"), "outbox message 99 does not exist")
    ctx = clisupport.get_context()
    with transaction(ctx.sessionmaker) as session:
        counts = outbox.depth(session)
        requeued = [(e.action, e.actor) for e in audit.entries_for(session, "outbox", "1")]
    assert counts == {"pending": 1, "dead": 1}
    assert [action for action, _ in requeued] == ["outbox.requeued"]
    assert requeued[0][1].startswith("cli:")


def test_worker_refuses_an_unknown_channel_filter(cli: Invoke) -> None:
    _fails(
        cli("worker", "--once", "--channel", "fax"),
        "not installed: fax",
        "installed: event, sms, smtp, webhook",
    )
