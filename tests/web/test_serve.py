"""`firstword serve`: migrates, loads the component catalogue, prints where to go, serves."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from firstword.cli import app as cli_app
from firstword.web import cli as web_cli
from tests.conftest import free_port


def _wait_until_up(url: str, proc: subprocess.Popen[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"serve exited early with {proc.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve did not come up in time")


def test_serve_runs_the_app_on_a_fresh_data_dir(tmp_path: Path):
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTWORD_")}
    env["COLUMNS"] = "200"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "firstword",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/readyz", proc, time.monotonic() + 60)
        with urllib.request.urlopen(f"{base}/console/login") as response:
            assert "Sign in" in response.read().decode()
            assert "script-src 'self'" in response.headers["content-security-policy"]
            assert "server" not in {k.lower() for k in response.headers}
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # uvicorn waits for open connections; stop it hard
            proc.kill()
            output, _ = proc.communicate(timeout=10)
    assert f"{base}/console/" in output
    assert f"{base}/api/v1" in output
    assert f"{base}/api/openapi.json" in output
    assert "No admin user yet" in output
    assert "firstword users create --email" in output and "--role admin" in output
    with sqlite3.connect(data_dir / "firstword.db") as db:
        (components,) = db.execute("SELECT count(*) FROM components").fetchone()
        (users,) = db.execute("SELECT count(*) FROM users").fetchone()
    assert components > 5  # the shipped catalogue was loaded
    assert users == 0


def test_serve_refuses_reload_with_several_workers():
    result = CliRunner().invoke(cli_app, ["serve", "--reload", "--workers", "2"])
    assert result.exit_code == 1
    assert "--reload" in result.output


def test_no_admin_hint_once_there_is_an_admin(capsys):
    web_cli._announce("127.0.0.1", 8123, 1, False, 1, Path("/srv/fw"), "sqlite:///x.db")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/console/" in out
    assert "No admin user yet" not in out
