"""`firstword statuspage signage REF`: the in-store poster (A4 PDF) and the till/receipt text
from an incident's latest published update (mounted by statuspage/cli.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from firstword.clisupport import console, get_context, handle_errors
from firstword.core.db import transaction
from firstword.incidents import service as incidents
from firstword.statuspage import signage as signs


@handle_errors
def signage(
    ref: str = typer.Argument(..., help="The incident, e.g. INC-2026-0001."),
    lang: str | None = typer.Option(
        None, "--lang", help="Language of the sign: en or de (default: the store's, else en)."
    ),
    store: str | None = typer.Option(
        None,
        "--store",
        help="Store id from the stores file: its language, time zone and services that still work.",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write the PDF (default: ./REF-LANG.pdf)."
    ),
    till_out: Path | None = typer.Option(
        None, "--till-out", help="Also write the till/receipt text to this file."
    ),
) -> None:
    """Make the A4 sign (PDF) for the shop door and till point, and print the till/receipt
    text (4 lines of 40 characters), from the latest published update of an incident."""
    context = get_context()
    settings = context.settings
    with transaction(context.sessionmaker) as session:
        chosen = signs.load_store(settings.data_dir, store) if store else None
        notice = signs.build_notice(
            incidents.get_incident(session, clock=context.clock, ref=ref),
            catalogue=incidents.list_components(session),
            settings=settings,
            lang=lang,
            store=chosen,
        )
    pdf = signs.sign_pdf(
        notice, brand_color=settings.brand_primary_color, logo=settings.brand_logo_url
    )
    target = out or Path(f"{notice.ref}-{notice.lang}.pdf")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pdf)
    till = signs.till_text(notice)
    if till_out is not None:
        till_out.parent.mkdir(parents=True, exist_ok=True)
        till_out.write_text(till, encoding="utf-8")
    console.print(f"sign written to {escape(str(target))} ({len(pdf):,} bytes)", highlight=False)
    console.print("till/receipt text:", highlight=False)
    console.print(escape(till.rstrip("\n")), highlight=False, soft_wrap=True)


def mount(app: typer.Typer) -> None:
    """Add `signage` to the `firstword statuspage` app."""
    app.command("signage")(signage)
