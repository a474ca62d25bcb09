"""The status page under a surge: nginx serving the static export, and the app serving its
pre-rendered page and JSON itself, against nginx serving the same bytes as plain static files,
in one run, on this machine (issue 3, "Measured"; shared/research/perf-anchors.md B.1, B.2, C.1).

What it does, all on 127.0.0.1:
1. `firstword demo --fast --no-serve` into a temporary data directory (a realistic snapshot:
   the demo's incidents, ~98 kB page, ~11 kB summary.json), then `firstword statuspage export`.
2. Starts, each as its own process group, stopped by its own pid at the end:
   * nginx "baseline": the research's minimal static config (perf/nginx.conf: access log off,
     sendfile, open_file_cache) serving the same page and summary.json bytes as plain files,
     plus `gzip_static on` and .gz copies so gzip runs compare like with like;
   * nginx "export": the same base config with the export's own nginx.conf snippet (language
     negotiation, cache/CORS/security headers, gzip_static) and root = the export;
   * the app: `firstword serve --no-worker --no-access-log --server S --workers N` for each
     server S, with the public rate limit raised out of the way (every wrk connection comes
     from 127.0.0.1; production limits per client at these rates belong in the proxy/CDN).
3. Checks that each serves the right bytes and headers, then runs `wrk --latency` against every
   case, round-robin for --runs rounds (so drift in machine load hits every case alike), and
   reports medians: req/s, p50/p90/p99, socket errors, non-2xx/3xx answers; then the ratios
   against the baseline and pass/fail per goal:
   (a) export via nginx >= 90 % of the baseline's req/s;
   (b) the app >= 40 % of the baseline's req/s with p99 <= 3x the baseline's p99 at 64
       connections, and no socket error and no non-2xx answer at 1,000 connections.

Exits non-zero only when setup fails (a tool missing, a server not starting, a wrong answer);
a missed goal is reported, not an error.

    .venv/bin/python benchmarks/statuspage_surge.py [--duration 10] [--runs 3]
        [--servers granian,uvicorn] [--workers 1] [--connections 64] [--surge 1000]
        [--data DATA_DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

RATE_LIMIT_OUT_OF_THE_WAY = "1000000000"
BASE_HTTP = """\
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    open_file_cache max=100;"""


class SetupFailed(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"setup failed: {message}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def firstword(data_dir: Path, *args: str, env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "firstword", "--data-dir", str(data_dir), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SetupFailed(f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}")


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTWORD_")}
    env["COLUMNS"] = "200"
    return env


def wait_for(url: str, proc: subprocess.Popen[bytes] | None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SetupFailed(f"{url}: the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SetupFailed(f"{url} did not come up in {seconds:.0f} s")


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
        got: dict[str, str] = {}
        for name, value in response.headers.items():  # repeated fields joined, as RFC 9110
            key = name.lower()
            got[key] = f"{got[key]}, {value}" if key in got else value
        return response.status, response.read(), got


def stop_group(proc: subprocess.Popen[bytes], first: signal.Signals) -> None:
    """Stop a server we started (it leads its own process group) by its pid."""
    if proc.poll() is None:
        os.killpg(proc.pid, first)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # children that outlived their parent
        os.killpg(proc.pid, signal.SIGKILL)


# --- nginx ----------------------------------------------------------------------------------


def nginx_conf(port: int, body: str, http_extra: str = "") -> str:
    return f"""\
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 4096; }}
http {{
{BASE_HTTP}
{http_extra}
    server {{
        listen 127.0.0.1:{port};
{body}
    }}
}}
"""


def baseline_conf(port: int) -> str:
    """The research's minimal static config (perf/nginx.conf), plus gzip_static (which does
    nothing for requests without Accept-Encoding: gzip)."""
    body = """\
        root www;
        location / { default_type text/html; gzip_static on; gzip_vary on; }"""
    return nginx_conf(port, body)


def export_conf(port: int, site: Path) -> str:
    """The base config with the export's own snippet: maps in http {}, the rest in server {}."""
    snippet = (site / "nginx.conf").read_text()
    maps, marker, rest = snippet.partition("# server {")
    if not marker:
        raise SetupFailed("the exported nginx.conf has no '# server {' section")
    server = rest.rsplit("# }", 1)[0].replace("root /srv/firstword-status;", f"root {site};")
    http_extra = f"    include /etc/nginx/mime.types;\n{maps}"
    return nginx_conf(port, server, http_extra)


@contextmanager
def nginx(prefix: Path, conf: str, workers: int) -> Iterator[None]:
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "nginx.conf").write_text(conf)
    test = subprocess.run(
        ["nginx", "-t", "-q", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    if test.returncode != 0:
        raise SetupFailed(f"nginx -t for {prefix.name}:\n{test.stderr}")
    proc = subprocess.Popen(
        [
            "nginx",
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-g",
            f"daemon off; worker_processes {workers};",
        ],
        start_new_session=True,
    )
    try:
        yield
    finally:
        stop_group(proc, signal.SIGQUIT)


@contextmanager
def app_server(
    data_dir: Path, server: str, port: int, workers: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = clean_env()
    env["FIRSTWORD_PUBLIC_RATE_LIMIT_PER_MINUTE"] = RATE_LIMIT_OUT_OF_THE_WAY
    command = [
        sys.executable,
        "-m",
        "firstword",
        "--data-dir",
        str(data_dir),
        "serve",
        "--no-worker",
        "--port",
        str(port),
        "--server",
        server,
        "--workers",
        str(workers),
        "--no-access-log",  # a log line per request costs more than the answer
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        stop_group(proc, signal.SIGINT)


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class Run:
    rps: float
    p50: float  # milliseconds
    p90: float
    p99: float
    requests: int
    socket_errors: int
    non_2xx: int
    error_kinds: str = ""  # wrk's "connect 0, read 0, write 0, timeout 0"


@dataclass
class Case:
    name: str  # which server
    label: str  # what is requested
    url: str
    gzip: bool
    connections: int
    runs: list[Run] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.socket_errors for r in self.runs)

    @property
    def non_2xx(self) -> int:
        return sum(r.non_2xx for r in self.runs)


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not match:
        raise SetupFailed(f"unreadable wrk latency {value!r}")
    return float(match[1]) * UNITS[match[2]]


def parse_wrk(output: str) -> Run:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if not rps or not total:
        raise SetupFailed(f"unreadable wrk output:\n{output}")
    latency = {m[1]: _ms(m[2]) for m in re.finditer(r"^\s+(50|90|99)%\s+(\S+)", output, re.M)}
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Run(
        rps=float(rps[1]),
        p50=latency["50"],
        p90=latency["90"],
        p99=latency["99"],
        requests=int(total[1]),
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        error_kinds=errors[0].removeprefix("Socket errors: ") if errors else "",
    )


def wrk(case: Case, duration: int) -> Run:
    command = ["wrk", "-t1", f"-c{case.connections}", f"-d{duration}s", "--latency"]
    if case.gzip:
        command += ["-H", "Accept-Encoding: gzip"]
    done = subprocess.run(
        [*command, case.url], capture_output=True, text=True, timeout=duration + 60
    )
    if done.returncode != 0:
        raise SetupFailed(f"wrk failed: {done.stderr}")
    return parse_wrk(done.stdout)


# --- checks before measuring ------------------------------------------------------------------


def check(base: str, path: str, expected: bytes, name: str, *, headers: tuple[str, ...]) -> None:
    """The server answers `path` with exactly `expected`, plain and gzip-encoded."""
    status, body, got = fetch(base + path)
    if status != 200 or body != expected:
        raise SetupFailed(f"{name} {path}: status {status}, {len(body)} bytes, not the page")
    missing = [h for h in headers if h not in got]
    if missing:
        raise SetupFailed(f"{name} {path}: missing headers {missing}")
    status, body, got = fetch(base + path, {"Accept-Encoding": "gzip"})
    if got.get("content-encoding") != "gzip" or gzip.decompress(body) != expected:
        raise SetupFailed(f"{name} {path}: no gzip variant of the same bytes")
    if "accept-encoding" not in got.get("vary", "").lower():
        raise SetupFailed(f"{name} {path}: gzip answer without Vary: Accept-Encoding")


# --- report -----------------------------------------------------------------------------------


def row(case: Case, baseline: Case | None) -> str:
    rps = case.median("rps")
    ratio = f"{rps / baseline.median('rps'):.0%}" if baseline else "100 %"
    p99_ratio = f"{case.median('p99') / baseline.median('p99'):.1f}x" if baseline else "1.0x"
    return (
        f"| {case.name} | {case.label} | {'gzip' if case.gzip else 'identity'} | "
        f"{case.connections} | {rps:,.0f} | {case.median('p50'):.2f} | "
        f"{case.median('p90'):.2f} | {case.median('p99'):.2f} | {case.errors} | "
        f"{case.non_2xx} | {ratio} | {p99_ratio} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="rounds (medians are reported)")
    parser.add_argument("--servers", default="granian,uvicorn", help="app servers to measure")
    parser.add_argument("--workers", type=int, default=1, help="nginx and app worker processes")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--surge", type=int, default=1000, help="connections for the surge run")
    parser.add_argument(
        "--data", type=Path, help="use (a copy of) this data directory instead of a fresh demo"
    )
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            raise SetupFailed(f"{tool} is not installed (apt-get install nginx wrk)")
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]

    load_before = os.getloadavg()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fw-surge-")))
        tmp.chmod(0o755)  # nginx workers may run as another user
        data, site = tmp / "data", tmp / "site"
        if args.data:  # a copy: the servers write to it (migrations, WAL)
            shutil.copytree(args.data, data)
        else:
            print("building the demo data ...", flush=True)
            firstword(data, "demo", "--fast", "--no-serve", env=clean_env())
        print("exporting the site ...", flush=True)
        firstword(data, "statuspage", "export", str(site), env=clean_env())
        page = (site / "index.html").read_bytes()
        summary = (site / "api/v2/summary.json").read_bytes()
        www = tmp / "baseline" / "www"
        www.mkdir(parents=True)
        for name, content in (("index.html", page), ("summary.json", summary)):
            (www / name).write_bytes(content)
            (www / f"{name}.gz").write_bytes((site / _exported(name)).read_bytes())

        ports = {"baseline": free_port(), "export": free_port()}
        stack.enter_context(nginx(tmp / "baseline", baseline_conf(ports["baseline"]), args.workers))
        stack.enter_context(
            nginx(tmp / "export-nginx", export_conf(ports["export"], site), args.workers)
        )
        for name in servers:
            ports[name] = free_port()
            proc = stack.enter_context(
                app_server(data, name, ports[name], args.workers, tmp / f"{name}.log")
            )
            wait_for(f"http://127.0.0.1:{ports[name]}/readyz", proc)
        base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        wait_for(base["baseline"] + "/index.html", None)
        wait_for(base["export"] + "/", None)

        check(base["baseline"], "/index.html", page, "baseline", headers=())
        check(base["baseline"], "/summary.json", summary, "baseline", headers=())
        shared = ("cache-control", "x-content-type-options")
        german = (site / "index.de.html").read_bytes()
        for name in ["export", *servers]:
            check(base[name], "/", page, name, headers=(*shared, "content-language"))
            check(base[name], "/?lang=de", german, name, headers=(*shared, "content-language"))
            check(base[name], "/api/v2/summary.json", summary, name, headers=shared)
        print("every server answers with the same bytes (plain and gzip)", flush=True)

        paths = {
            "baseline": {"page": "/index.html", "summary.json": "/summary.json"},
            "export": {"page": "/", "summary.json": "/api/v2/summary.json"},
        }
        cases: list[Case] = []
        for name in ["baseline", "export", *servers]:
            for label in ("page", "summary.json"):
                path = paths.get(name, paths["export"])[label]
                for gz in (False, True):
                    cases.append(Case(name, label, base[name] + path, gz, args.connections))
        for name in ["baseline", *servers]:
            for label in ("page", "summary.json"):
                path = paths.get(name, paths["export"])[label]
                cases.append(Case(name, label, base[name] + path, False, args.surge))

        loads = []
        for round_ in range(args.runs):
            for case in cases:
                case.runs.append(wrk(case, args.duration))
                time.sleep(0.5)
            loads.append(os.getloadavg()[0])
            print(f"round {round_ + 1}/{args.runs} done (load {loads[-1]:.2f})", flush=True)

    report(cases, servers, args, load_before, loads)


def _exported(name: str) -> str:
    return "index.html.gz" if name == "index.html" else "api/v2/summary.json.gz"


def report(
    cases: list[Case],
    servers: list[str],
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
    loads: list[float],
) -> None:
    def find(name: str, label: str, gz: bool, conns: int) -> Case:
        return next(
            c for c in cases if (c.name, c.label, c.gzip, c.connections) == (name, label, gz, conns)
        )

    print()
    print(
        f"wrk -t1, {args.duration} s per run, medians of {args.runs} rounds; nginx and app with "
        f"{args.workers} worker(s); load average before {load_before[0]:.2f}, after each round "
        + ", ".join(f"{x:.2f}" for x in loads)
    )
    print()
    print(
        "| server | file | encoding | conns | req/s | p50 ms | p90 ms | p99 ms | socket errors "
        "| non-2xx/3xx | req/s vs baseline | p99 vs baseline |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for case in cases:
        baseline = None
        if case.name != "baseline":
            baseline = find("baseline", case.label, case.gzip, case.connections)
        print(row(case, baseline))

    print()
    verdicts: list[tuple[str, bool, str]] = []
    for label in ("page", "summary.json"):
        for gz in (False, True):
            enc = "gzip" if gz else "identity"
            base = find("baseline", label, gz, args.connections)
            got = find("export", label, gz, args.connections)
            ratio = got.median("rps") / base.median("rps")
            verdicts.append(
                (
                    f"(a) export via nginx, {label}, {enc}",
                    ratio >= 0.9,
                    f"{ratio:.0%} of baseline (goal >= 90 %)",
                )
            )
    for name in servers:
        for label in ("page", "summary.json"):
            for gz in (False, True):
                enc = "gzip" if gz else "identity"
                base = find("baseline", label, gz, args.connections)
                got = find(name, label, gz, args.connections)
                ratio = got.median("rps") / base.median("rps")
                p99 = got.median("p99") / base.median("p99")
                verdicts.append(
                    (
                        f"(b) app under {name}, {label}, {enc}, {args.connections} conns",
                        ratio >= 0.4 and p99 <= 3.0,
                        f"{ratio:.0%} of baseline req/s (goal >= 40 %), "
                        f"p99 {p99:.1f}x (goal <= 3x)",
                    )
                )
            surge = find(name, label, False, args.surge)
            clean = surge.errors == 0 and surge.non_2xx == 0
            kinds = "; ".join(r.error_kinds for r in surge.runs if r.socket_errors)
            verdicts.append(
                (
                    f"(b) app under {name}, {label}, {args.surge} conns",
                    clean,
                    f"{surge.errors} socket errors{f' ({kinds})' if kinds else ''}, "
                    f"{surge.non_2xx} non-2xx/3xx in "
                    f"{sum(r.requests for r in surge.runs):,} requests (goal: none)",
                )
            )
    for goal, ok, detail in verdicts:
        print(f"{'PASS' if ok else 'MISS'}  {goal}: {detail}")


if __name__ == "__main__":
    main()
