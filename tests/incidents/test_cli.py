"""`firstword incidents ...` end to end against a temporary data directory (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from firstword import clisupport
from firstword.cli import app

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(tmp_path: Path) -> Iterator[Invoke]:
    def _reset() -> None:
        if clisupport._context is not None:
            clisupport._context.close()
        clisupport._context = None

    _reset()
    runner = CliRunner()
    env = {
        "FIRSTWORD_DATA_DIR": str(tmp_path / "data"),
        "FIRSTWORD_DATABASE_URL": None,
        "COLUMNS": "200",
    }

    def _invoke(*args: str) -> Result:
        return runner.invoke(app, ["incidents", *args], env=env)

    yield _invoke
    _reset()


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def test_open_update_status_show_timeline(invoke: Invoke, tmp_path: Path) -> None:
    opened = _ok(
        invoke(
            "open",
            "--title",
            "Checkout <b>failing</b> [red]x[/red]",
            "--kind",
            "outage",
            "--severity",
            "sev1",
            "--component",
            "online-checkout=major_outage",
            "--data-category",
            "email",
            "--detected-at",
            "2020-01-01T08:00:00Z",
        )
    )
    assert "INC-" in opened.output
    listed = json.loads(_ok(invoke("list", "--json")).output)
    ref = listed["items"][0]["ref"]
    assert listed["total"] == 1
    assert listed["items"][0]["title"] == "Checkout <b>failing</b> [red]x[/red]"

    _ok(
        invoke(
            "update",
            ref,
            "--message",
            "Some customers cannot check out.",
            "--component",
            "online-checkout=partial_outage",
        )
    )
    _ok(invoke("status", ref, "monitoring", "--note", "fix deployed"))
    _ok(invoke("note", ref, "CDN vendor ticket 4411"))
    show = json.loads(_ok(invoke("show", ref, "--json")).output)
    assert show["state"] == "monitoring"
    assert show["components"] == [
        {
            "key": "online-checkout",
            "name": "Online ordering and checkout",
            "group": "Online",
            "status": "partial_outage",
        }
    ]
    assert show["data_categories"] == ["email"]
    assert show["updates"][0]["body"] == "Some customers cannot check out."
    assert show["clock"]["acknowledged_at"] is not None
    assert show["opened_by"].startswith("cli:")
    task = show["tasks"][0]
    assert task["overdue"]  # detected in 2020
    done = _ok(invoke("task-done", ref, str(task["id"])))
    assert f"task {task['id']} done" in done.output

    pretty = _ok(invoke("show", ref)).output
    for text in (
        "Transparency clock",
        "Online ordering and checkout",
        "partial outage",
        "[red]x[/red]",
        "Some customers cannot check out.",
    ):
        assert text in pretty
    entries = json.loads(_ok(invoke("timeline", ref, "--json")).output)
    assert [e["kind"] for e in entries] == [
        "opened",
        "playbook_applied",
        "components_changed",
        "public_update",
        "state_changed",
        "note_added",
        "task_done",
    ]
    assert "fix deployed" in _ok(invoke("timeline", ref)).output
    table = _ok(invoke("list", "--state", "monitoring")).output
    assert ref in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "open",
                "--title",
                "Down",
                "--kind",
                "outage",
                "--severity",
                "SEV2",
                "--component",
                "teleporter=major_outage",
            ],
            "components.teleporter",
        ),
        (
            [
                "open",
                "--title",
                "Down",
                "--kind",
                "outage",
                "--severity",
                "SEV2",
                "--component",
                "website",
            ],
            "not key=status",
        ),
        (
            [
                "open",
                "--title",
                "Down",
                "--kind",
                "outage",
                "--severity",
                "SEV2",
                "--component",
                "website=on_fire",
            ],
            "--component website",
        ),
        (["open", "--title", "Down", "--kind", "meteor", "--severity", "SEV2"], "--kind"),
        (["open", "--title", "x" * 201, "--kind", "outage", "--severity", "SEV2"], "--title"),
        (
            [
                "open",
                "--title",
                "Down",
                "--kind",
                "outage",
                "--severity",
                "SEV2",
                "--detected-at",
                "yesterday",
            ],
            "--detected-at",
        ),
        (
            [
                "open",
                "--title",
                "Down",
                "--kind",
                "outage",
                "--severity",
                "SEV2",
                "--detected-at",
                "2026-01-01T08:00",
            ],
            "time zone",
        ),
        (["status", "INC-2026-0042", "resolved"], "INC-2026-0042 does not exist"),
        (["list", "--state", "sleeping"], "--state"),
        (["list", "--limit", "0"], "limit"),
    ],
)
def test_bad_input_is_a_red_error_with_exit_1(
    invoke: Invoke, args: list[str], message: str
) -> None:
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert "error:" in result.output and message in result.output
    assert json.loads(_ok(invoke("list", "--json")).output)["total"] == 0


def test_unknown_state_transition_and_duplicate(invoke: Invoke) -> None:
    args = [
        "open",
        "--title",
        "Contactless down in UK stores",
        "--kind",
        "payment_disruption",
        "--severity",
        "SEV1",
        "--component",
        "contactless-payments=major_outage",
    ]
    _ok(invoke(*args))
    duplicate = invoke(*args)
    assert duplicate.exit_code == 1 and "already open" in duplicate.output
    ref = json.loads(_ok(invoke("list", "--json")).output)["items"][0]["ref"]
    bad = invoke("status", ref, "postmortem")
    assert bad.exit_code == 1 and "allowed from investigating" in bad.output
    _ok(invoke("status", ref, "resolved"))
    comps = json.loads(_ok(invoke("components", "--json")).output)
    assert {c["key"]: c["status"] for c in comps}["contactless-payments"] == "operational"


def test_components_and_playbooks_include_user_files(invoke: Invoke, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "playbooks").mkdir(parents=True)
    (data / "components.yaml").write_text(
        "components:\n  - key: pharmacy\n    name: Online pharmacy\n    group: Online\n"
    )
    (data / "playbooks" / "mine.yaml").write_text(
        "key: store-network-outage\nname: Store network outage\nkind: outage\n"
        "tasks:\n  - title: Call the WAN provider\n    owner_role: incident_commander\n"
        "    due_after: PT15M\n"
    )
    comps = _ok(invoke("components")).output
    assert "pharmacy" in comps and "Online pharmacy" in comps
    books = json.loads(_ok(invoke("playbooks", "--json")).output)
    assert {b["key"] for b in books} >= {"store-network-outage", "ransomware"}
    assert "store-network-outage" in _ok(invoke("playbooks")).output
    (data / "playbooks" / "broken.yaml").write_text("key: b\nkind: outage\ntasks: oops\n")
    broken = invoke("playbooks")
    assert broken.exit_code == 1 and "broken.yaml:" in broken.output
