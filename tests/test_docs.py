"""The documentation keeps up with the code (Datasette's habit): generated reference pages are
current, every setting and CLI command is documented, the README quickstart is exact."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from firstword.core.settings import Settings
from firstword.reference import pages

ROOT = Path(__file__).resolve().parent.parent


def test_generated_reference_is_current() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in pages().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"run `python -m firstword.reference` to regenerate: {stale}"


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "reference" / "configuration.md").read_text()
    missing = [n for n in Settings.model_fields if f"FIRSTWORD_{n.upper()}" not in text]
    assert not missing
    undescribed = [n for n, f in Settings.model_fields.items() if not f.description]
    assert not undescribed, f"settings without a description: {undescribed}"


def test_every_cli_command_has_help() -> None:
    import typer

    from firstword.cli import app

    def walk(cmd: Any, path: str) -> list[str]:
        missing = [] if (cmd.help or "").strip() else [path]
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(typer.main.get_command(app), "firstword") == []


def test_readme_quickstart_is_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quickstart", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:]]
    assert [c for c in commands if c] == ["make demo", "make test"]


def test_docs_links_resolve() -> None:
    broken = []
    for page in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            if not (page.parent / target).resolve().exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken
