"""The demo step registry: a part adds a step with one decorated function, and it runs at its
scripted time, in order, seeing what earlier steps shared."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from firstword.core.settings import Settings
from firstword.demo import runner, steps
from firstword.demo.steps import DemoRun, demo_step, format_offset

START = datetime(2026, 11, 20, 18, 40, tzinfo=UTC)
seen: list[tuple[timedelta, str | None, str | None, datetime]] = []


# What a later part writes in its own package: one function, registered at import.
@demo_step("tests.after-breach", at=timedelta(hours=6), order=5, title="Test part's step")
def after_breach(demo: DemoRun) -> None:
    seen.append(
        (
            demo.elapsed,
            demo.shared.get("outage_ref"),
            demo.shared.get("breach_ref"),
            demo.clock.now(),
        )
    )
    demo.shared["test_part"] = "ran"
    demo.say("The test part did its thing.")


def test_steps_sort_by_time_then_order_then_name() -> None:
    ordered = steps.collect()
    keys = [s.sort_key for s in ordered]
    assert keys == sorted(keys)
    names = [s.name for s in ordered]
    assert names.index("incidents.orders-stop") == 0
    assert names.index("incidents.open-outage") < names.index("incidents.acknowledge")
    assert names.index("incidents.open-breach") < names.index("incidents.breach-statement")
    assert names[-1] == "incidents.summary"  # same time as "resolved", higher order


def test_a_step_only_runs_when_its_module_is_listed() -> None:
    assert "tests.after-breach" not in [s.name for s in steps.collect()]
    listed = steps.collect([*steps.STEP_MODULES, __name__])
    assert "tests.after-breach" in [s.name for s in listed]


def test_a_name_cannot_be_taken_by_another_function() -> None:
    def impostor(demo: DemoRun) -> None:
        raise AssertionError("never runs")

    with pytest.raises(ValueError, match="already registered by tests.demo.test_steps"):
        demo_step("tests.after-breach")(impostor)
    # Registering the same function again (a module re-import) is harmless.
    assert demo_step("tests.after-breach", at=timedelta(hours=6), order=5)(after_breach) is (
        after_breach
    )


def test_format_offset() -> None:
    assert format_offset(timedelta(minutes=12)) == "T+0:12"
    assert format_offset(timedelta(hours=6, minutes=30)) == "T+6:30"
    assert format_offset(timedelta(days=3)) == "T+3d 0:00"
    assert format_offset(timedelta(hours=-1)) == "T-1:00"


def test_a_registered_step_runs_in_order_on_the_scripted_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIRSTWORD_DATABASE_URL", raising=False)
    seen.clear()
    settings = Settings(data_dir=tmp_path / "data", database_url=None)
    output = io.StringIO()
    result = runner.run_demo(
        settings,
        runner.DemoOptions(
            customers=300,
            seed=3,
            password="test password 123",
            start=START,
            step_modules=[*steps.STEP_MODULES, __name__],
        ),
        console=Console(file=output, width=120),
        now=START + timedelta(days=4),
    )
    assert len(seen) == 1
    elapsed, outage_ref, breach_ref, at = seen[0]
    assert elapsed == timedelta(hours=6) and at == START + timedelta(hours=6)
    # It ran after the breach was opened (order 0 at T+6h) and saw both references.
    assert outage_ref == result.shared["outage_ref"] and outage_ref.startswith("INC-")
    assert breach_ref == result.shared["breach_ref"] and breach_ref != outage_ref
    assert result.shared["test_part"] == "ran"
    ran = runner.read_marker(result.demo_dir)["steps"]
    assert (
        ran.index("incidents.open-breach")
        < ran.index("tests.after-breach")
        < ran.index("incidents.outage-update-6")
    )
    assert "The test part did its thing." in output.getvalue()
    assert any(
        line.endswith("The test part did its thing.") and "T+6:00" in line for line in result.said
    )
