"""Small named exceptions raised by domain code; `gql/errors.py` maps them to the contract."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure; `code` is the contract's extensions.code."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    code = "BAD_USER_INPUT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class IllegalTransition(Conflict):
    """A mailing cannot move from its current state to the requested one."""


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"
