"""Text that UTF-8 cannot hold never gets past the edge. JSON may carry a lone surrogate
("\\ud800"), Python keeps it in a str, and the first encoder after that (SQLite, asyncpg, a log
handler) raises. Variables are checked once, before validation, for HTTP and websocket alike, so
no resolver ever sees such a string. Literals in the document need no check: graphql-core's
lexer already refuses lone surrogates there (a syntax error)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import ArgumentNode, DocumentNode, GraphQLError, ObjectFieldNode, VariableNode, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# (key, parent) links: a path is built only for the offending value, however deep the input.
_Link = tuple[str | int, Any]


def has_lone_surrogate(text: str) -> bool:
    return _LONE_SURROGATE.search(text) is not None


def _path(link: _Link | None) -> list[str | int]:
    path: list[str | int] = []
    while link is not None:
        path.append(link[0])
        link = link[1]
    return path[::-1]


def offending_path(variables: dict[str, Any]) -> list[str | int] | None:
    """The path of the first string with a lone surrogate. Iterative: the JSON decoder allows
    nesting far deeper than Python's recursion limit."""
    stack: list[tuple[Any, _Link]] = [(value, (name, None)) for name, value in variables.items()]
    while stack:
        value, link = stack.pop()
        if isinstance(value, str):
            if has_lone_surrogate(value):
                return _path(link)
        elif isinstance(value, dict):
            stack.extend((item, (key, link)) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, (index, link)) for index, item in enumerate(value))
    return None


class _Usage(Visitor):
    """The argument or input field that a variable is passed to (`clients(tag: $t)` → tag)."""

    def __init__(self, variable: str) -> None:
        super().__init__()
        self.variable = variable
        self.holder: str | None = None

    def enter_variable(
        self, node: VariableNode, key: Any, parent: Any, path: Any, ancestors: list[Any]
    ) -> Any:
        if node.name.value != self.variable or self.holder is not None:
            return None
        for ancestor in reversed([*ancestors, parent]):
            if isinstance(ancestor, ArgumentNode | ObjectFieldNode):
                self.holder = ancestor.name.value
                return Visitor.BREAK
        return None


def field_for(path: list[str | int], document: DocumentNode | None) -> str:
    """The contract's `extensions.field`: the innermost input field named in the path, else the
    argument the variable is passed to, else the variable's name."""
    names = [key for key in path if isinstance(key, str)]
    if len(names) > 1:
        return names[-1]
    if document is not None:
        usage = _Usage(names[0])
        visit(document, usage)
        if usage.holder:
            return usage.holder
    return names[0]


class WellFormedVariables(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        """Before validation (which is then skipped): the request is refused as a whole, a
        pre-execution error, so HTTP answers without data and a websocket gets `error`."""
        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.variables:
            if (path := offending_path(ctx.variables)) is not None:
                field = field_for(path, ctx.graphql_document)
                ctx.pre_execution_errors = [
                    GraphQLError(
                        f"{field}: text must be valid Unicode (a lone surrogate such as "
                        "\\ud800 is not)",
                        extensions={"code": "BAD_USER_INPUT", "field": field},
                    )
                ]
        yield
