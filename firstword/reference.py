"""Reference pages generated from the code: configuration (the Settings model) and the CLI.

`python -m firstword.reference` rewrites docs/reference/*.md; tests/test_docs.py fails when the
committed pages are out of date, so every setting and command is documented.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from firstword.core.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs" / "reference"


def configuration_markdown() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from `firstword/core/settings.py` by `python -m firstword.reference`; "
        "do not edit by hand.",
        "",
        "Every setting is read once at start-up from an environment variable `FIRSTWORD_<NAME>`.",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default in (None, "") else f"`{default}`"
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `FIRSTWORD_{name.upper()}` | {shown} | {description} |")
    return "\n".join(lines) + "\n"


def _walk(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    # Typer vendors its own click, so go by shape (a group has .commands), not by class.
    found = [(path, command)]
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            found += _walk(command.commands[name], [*path, name])
    return found


def cli_markdown() -> str:
    from firstword.cli import app

    root = typer.main.get_command(app)
    lines = [
        "# CLI reference",
        "",
        "Generated from the Typer app by `python -m firstword.reference`; do not edit by hand.",
        "",
    ]
    for path, command in _walk(root, ["firstword"]):
        lines.append(f"## `{' '.join(path)}`")
        lines.append("")
        help_text = (command.help or "").strip()
        if help_text:
            lines.append(help_text.split("\n\n")[0].strip())
            lines.append("")
        params = [p for p in command.params if p.name != "help"]
        if params:
            lines.append("| option | meaning |")
            lines.append("| --- | --- |")
            for param in params:
                if getattr(param, "param_type_name", "") == "option":
                    names = ", ".join(f"`{o}`" for o in param.opts + param.secondary_opts)
                    meaning = (param.help or "").replace("|", "\\|")
                else:
                    names = f"`{param.name.upper() if param.name else ''}`"
                    meaning = "argument"
                lines.append(f"| {names} | {meaning} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def pages() -> dict[Path, str]:
    return {
        DOCS / "configuration.md": configuration_markdown(),
        DOCS / "cli.md": cli_markdown(),
    }


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    for path, text in pages().items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
