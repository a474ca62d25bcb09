"""Helpers for the public page tests: incidents made through the services, the rendered page,
and a small HTML reader (stdlib html.parser) to look at the page's structure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser

from sqlalchemy.orm import Session

from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.settings import Settings
from firstword.incidents import service as incidents
from firstword.incidents.schemas import IncidentRead, UpdatePost
from firstword.statuspage import render
from firstword.statuspage.view import StatusView, build_view
from tests.factories import ensure_catalogue, make_incident

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> & \"q\""
ADVICE = "Please pay with cash or contactless on your phone. Online orders are not affected."
FIRST_UPDATE = "We are investigating reports that card payments fail at tills."
SECOND_UPDATE = "We found the cause at our payment provider and are rolling out a fix."


def payment_incident(session: Session, clock: FrozenClock, title: str = "") -> IncidentRead:
    """An open SEV1 card-payment incident in UK stores with advice and two updates."""
    ensure_catalogue(session, clock)
    incident = make_incident(
        session,
        clock,
        title=title or "Card payments failing in some stores",
        kind="payment_disruption",
        severity="SEV1",
        customer_advice=ADVICE,
        components={"card-payments": "major_outage", "stores-uk": "degraded_performance"},
    )
    clock.advance(timedelta(minutes=10))
    incidents.post_update(
        session,
        clock=clock,
        actor=system_actor("tests"),
        ref=incident.ref,
        data=UpdatePost(body=FIRST_UPDATE),
    )
    clock.advance(timedelta(minutes=40))
    incidents.post_update(
        session,
        clock=clock,
        actor=system_actor("tests"),
        ref=incident.ref,
        data=UpdatePost(body=SECOND_UPDATE, state="identified"),
    )
    clock.advance(timedelta(minutes=5))
    return incidents.get_incident(session, clock=clock, ref=incident.ref)


def view_of(session: Session, clock: FrozenClock, settings: Settings) -> StatusView:
    ensure_catalogue(session, clock)
    return build_view(session, clock=clock, settings=settings)


def page_html(session: Session, clock: FrozenClock, settings: Settings, lang: str = "en") -> str:
    return render.render_page(view_of(session, clock, settings), lang=lang, settings=settings)


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and (cls is None or cls in child.classes()):
                found.append(child)
            found += child.find_all(tag, cls)
        return found

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)


class _Reader(HTMLParser):
    VOID = frozenset({"meta", "link", "input", "img", "br", "hr", "use", "path", "circle", "rect"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, parent=self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(Node("#text", {}, text=data, parent=self.current))


def parse(html: str) -> Node:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.root
