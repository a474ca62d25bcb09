"""What every CLI command shares: building the context once, one transaction, error display."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session

from firstword.context import Context, build_context
from firstword.core.auth.roles import Actor, system_actor
from firstword.core.errors import FirstwordError
from firstword.core.migrate import upgrade
from firstword.core.settings import Settings

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

_overrides: dict[str, Any] = {}
_context: Context | None = None


def set_overrides(**values: Any) -> None:
    """Global options (`--data-dir`) given to the root command."""
    _overrides.update({k: v for k, v in values.items() if v is not None})


def settings() -> Settings:
    return Settings(**_overrides)


def get_context() -> Context:
    """The CLI's context, built on first use; the schema is brought up to date then."""
    global _context
    if _context is None:
        _context = build_context(settings())
        upgrade(_context.engine)
    return _context


@contextmanager
def transaction() -> Iterator[Session]:
    ctx = get_context()
    with ctx.sessionmaker() as session, session.begin():
        yield session


def cli_actor() -> Actor:
    """Who acts from the command line: the operator of this machine, with admin rights
    (whoever can run the CLI can read the database file anyway)."""
    import getpass

    return Actor(kind="system", name=f"cli:{getpass.getuser()}", roles=system_actor("cli").roles)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Service errors become a red message and exit code 1, not a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except FirstwordError as exc:
            err_console.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def data_dir_option() -> Any:
    """A per-command `--data-dir` (the same as the root option, for convenience)."""
    return typer.Option(
        None,
        "--data-dir",
        help="Data directory (default ./firstword-data).",
        envvar="FIRSTWORD_DATA_DIR",
    )
