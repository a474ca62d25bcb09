"""Errors services raise. The web layer maps them to 4xx, the CLI to a red message and exit 1."""

from __future__ import annotations


class FirstwordError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(FirstwordError):
    status_code = 404


class Conflict(FirstwordError):
    status_code = 409


class Forbidden(FirstwordError):
    status_code = 403


class InvalidInput(FirstwordError):
    """Bad input, naming the field (dotted path, or file:line for data files) at fault."""

    status_code = 422

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
