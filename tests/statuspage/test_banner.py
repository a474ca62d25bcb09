"""The shop-front banner: a tiny script, and in Chromium on a shop page of another origin."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from firstword.core.settings import Settings
from firstword.statuspage import render
from firstword.statuspage import service as statuspage
from tests.conftest import free_port
from tests.statuspage.page_support import HOSTILE, payment_incident


def test_banner_script_is_tiny_and_safe():
    script = render.render_banner_js(Settings())
    assert len(script.encode()) < 2048
    for forbidden in (
        "eval(",
        "innerHTML",
        "outerHTML",
        "document.write",
        "new Function",
        "insertAdjacentHTML",
        "__CONFIG__",
        'setAttribute("style"',
    ):
        assert forbidden not in script, forbidden
    assert "textContent" in script
    config = re.search(r"C=(\{.*?\}),D=document", script)
    assert config is not None
    labels = json.loads(config.group(1))["labels"]
    assert labels["de"] == {"more": "Statusseite", "close": "Ausblenden"}
    assert set(labels) == set(render.PAGE_LANGUAGES)


# --- in the browser -------------------------------------------------------------------------


class ShopServer:
    """A stand-in for the retailer's shop: serves given paths on another loopback port."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, str, dict[str, str]]] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = files.get(self.path)
                if found is None:
                    self.send_error(404)
                    return
                body, content_type, headers = found
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(self, path: str, script_src: str, lang: str = "en", csp: str = "") -> str:
        html = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<title>Shop</title><link rel="icon" href="data:,">'
            f'<script async src="{script_src}"></script></head>'
            f'<body><h1 id="shop">Our shop</h1><p>Autumn sale.</p></body></html>'
        )
        headers = {"Content-Security-Policy": csp} if csp else {}
        self.files[path] = (html, "text/html; charset=utf-8", headers)
        return self.url + path


@pytest.fixture
def shop() -> Iterator[ShopServer]:
    server = ShopServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def _errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def _settled(page, live: str) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    """Wait until the banner script has had its answer (and its 50 ms text delay)."""

    def wait() -> None:
        page.wait_for_function("document.readyState === 'complete'")
        page.evaluate("() => new Promise(r => setTimeout(r, 300))")

    return wait


@pytest.mark.browser
def test_banner_shows_the_headline_on_a_shop_page(committing_context, live_server, page, shop):
    from playwright.sync_api import expect

    title = f"Card payments failing {HOSTILE}"
    with committing_context.sessionmaker() as session, session.begin():
        incident = payment_incident(session, committing_context.clock, title=title)
    assert statuspage.rebuild_now(committing_context).ok

    # a strict shop CSP: our script and its JSON allowed, no inline styles at all
    csp = (
        f"default-src 'self'; script-src 'self' {live_server}; "
        f"connect-src {live_server}; style-src 'self'; img-src data:"
    )
    errors = _errors(page)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(shop.page("/de.html", f"{live_server}/banner.js", lang="de", csp=csp))

    bar = page.locator("#firstword-banner [role=status]")
    expect(bar).to_contain_text(title)  # shown as text, never as markup
    assert page.locator("img[src=x]").count() == 0
    link = bar.locator("a")
    expect(link).to_have_text("Statusseite")
    assert link.get_attribute("href").endswith(f"/#{incident.ref}")
    box = bar.bounding_box()
    assert box is not None and box["height"] == 46  # 44px + 2px border, however long the text
    shop_heading = page.locator("#shop").bounding_box()
    assert shop_heading is not None and box["y"] + box["height"] <= shop_heading["y"]
    assert page.evaluate("document.body.firstElementChild.id") == "firstword-banner"
    background = bar.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(179, 19, 31)"  # critical: the styles survived the shop's CSP
    assert page.locator("#shop").is_visible()
    assert errors == []

    bar.get_by_role("button", name="Ausblenden").click()
    expect(page.locator("#firstword-banner")).to_have_count(0)
    page.reload()
    _settled(page, live_server)()
    expect(page.locator("#firstword-banner")).to_have_count(0)  # dismissed for the session


@pytest.mark.browser
def test_banner_shows_nothing_when_all_is_operational(committing_context, live_server, page, shop):
    from playwright.sync_api import expect

    assert statuspage.rebuild_now(committing_context).ok
    errors = _errors(page)
    with page.expect_response(lambda r: r.url == f"{live_server}/banner.json") as answer:
        page.goto(shop.page("/en.html", f"{live_server}/banner.js"))
    assert answer.value.json()["status"] == "none"
    _settled(page, live_server)()
    expect(page.locator("#firstword-banner")).to_have_count(0)
    assert page.evaluate("document.body.firstElementChild.id") == "shop"
    assert errors == []


@pytest.mark.browser
def test_banner_failures_never_break_the_shop(page, shop):
    from playwright.sync_api import expect

    shop.files["/status/banner.js"] = (
        render.render_banner_js(Settings()),
        "text/javascript; charset=utf-8",
        {},
    )
    shop.files["/status/banner.json"] = ("{not json", "application/json", {})
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.goto(shop.page("/broken.html", f"{shop.url}/status/banner.js"))
    _settled(page, shop.url)()
    expect(page.locator("#firstword-banner")).to_have_count(0)
    assert page_errors == []

    shop.files["/status/banner.json"] = (
        json.dumps({"status": "critical", "headline": "Checkout is down", "url": "javascript:x"}),
        "application/json",
        {},
    )
    page.goto(shop.page("/unsafe-link.html", f"{shop.url}/status/banner.js"))
    link = page.locator("#firstword-banner a")
    expect(link).to_have_text("Status page")
    assert link.get_attribute("href") == f"{shop.url}/status/"  # never a javascript: URL
    assert page_errors == []
