"""A webhook receiver for worker tests: a threaded HTTP server on loopback that records every
request's idempotency key, whether its signature verifies, and when it arrived."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from firstword.core.channels.webhook import verify_signature


@dataclass(frozen=True)
class Hit:
    key: str
    signature_ok: bool
    at: float  # time.time() on arrival


class WebhookReceiver:
    def __init__(self, secret: str, *, delay: float = 0.0) -> None:
        self.secret = secret
        self.delay = delay
        self.gate: threading.Event | None = None  # when set up, requests wait for it
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify_signature(
                    receiver.secret, self.headers.get("X-Firstword-Signature", ""), body
                )
                with receiver._lock:
                    receiver._hits.append(
                        Hit(self.headers.get("Idempotency-Key", ""), ok, time.time())
                    )
                if receiver.gate is not None:
                    receiver.gate.wait(30)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def counts(self) -> Counter[str]:
        return Counter(hit.key for hit in self.hits())

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.hits()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver saw {len(self.hits())} < {count} requests")
            time.sleep(0.01)
