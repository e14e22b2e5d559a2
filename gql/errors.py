"""The one place errors become the contract: extensions.code (and .field), everything
unexpected masked as INTERNAL_SERVER_ERROR with the details logged server-side only."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from models.errors import DomainError

log = logging.getLogger("herald.api")

INTERNAL = "INTERNAL_SERVER_ERROR"
KNOWN_CODES = {"BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "UNAUTHENTICATED", "FORBIDDEN"}
# graphql-core names the offending input in its message, e.g. "Variable '$input' has invalid
# value at .startAt: ..." or "... got invalid value ... at 'input.startAt'; ..." or
# "Argument 'input' has invalid value ... In field "startAt"".
_AT_PATH = re.compile(r"at '?([\w.\[\]]+?)'?[:;]")
_IN_FIELD = re.compile(r'[Ff]ield "(\w+)"')


def domain_error(exc: DomainError, source: GraphQLError | None = None) -> GraphQLError:
    extensions: dict[str, Any] = {"code": exc.code}
    if exc.field:
        extensions["field"] = exc.field
    return GraphQLError(
        exc.message,
        nodes=source.nodes if source else None,
        path=source.path if source else None,
        extensions=extensions,
    )


def _input_field(message: str) -> str | None:
    if match := _AT_PATH.search(message):
        last = match.group(1).split(".")[-1]
        return re.sub(r"\[\d+\]", "", last) or None
    if match := _IN_FIELD.search(message):
        return match.group(1)
    return None


def to_contract(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        return domain_error(original, error)
    if (error.extensions or {}).get("code") in KNOWN_CODES:
        return error
    if (
        isinstance(original, GraphQLError)
        and (original.extensions or {}).get("code") in KNOWN_CODES
    ):
        return GraphQLError(
            original.message, nodes=error.nodes, path=error.path, extensions=original.extensions
        )
    if error.path is None:
        # Raised before any resolver ran (parse, validation, variable coercion, limits):
        # the request is at fault, and graphql-core's message says where.
        extensions: dict[str, Any] = {"code": "BAD_USER_INPUT"}
        if field := _input_field(error.message):
            extensions["field"] = field
        return GraphQLError(error.message, nodes=error.nodes, extensions=extensions)
    log.error(
        "unexpected error in %s",
        ".".join(map(str, error.path)),
        exc_info=(type(original), original, original.__traceback__) if original else None,
    )
    return GraphQLError(
        "Internal server error", nodes=error.nodes, path=error.path, extensions={"code": INTERNAL}
    )


class ErrorContract(SchemaExtension):
    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Subscriptions: each streamed result is mapped before it reaches the client."""
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [to_contract(e) for e in errors]
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [to_contract(e) for e in errors]
