"""Staff roles and who counts as acting."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    INCIDENT_COMMANDER = "incident_commander"
    COMMUNICATIONS = "communications"
    LEGAL = "legal"
    SECURITY = "security"
    CUSTOMER_SERVICE = "customer_service"
    VIEWER = "viewer"


ALL_ROLES: frozenset[Role] = frozenset(Role)
# Roles that may read everything in the console; every staff role can read.
READ_ROLES: frozenset[Role] = ALL_ROLES


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, a token acting for its owner, or the system itself."""

    kind: str  # "user" | "token" | "system"
    name: str  # e-mail for users, "token:<prefix>" for tokens, "system:<what>" for the system
    roles: frozenset[Role] = field(default_factory=frozenset)
    user_id: int | None = None

    def has_any(self, roles: frozenset[Role] | set[Role]) -> bool:
        return Role.ADMIN in self.roles or bool(self.roles & set(roles))

    @property
    def label(self) -> str:
        return self.name


def system_actor(what: str) -> Actor:
    return Actor(kind="system", name=f"system:{what}", roles=frozenset({Role.ADMIN}))
