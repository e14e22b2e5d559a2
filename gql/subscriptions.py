"""Subscription arguments checked before the stream starts, so an unknown mailing id is a
protocol `error` message for that operation (the connection and other operations go on)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionNode,
    VariableNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from gql.errors import domain_error
from gql.ids import parse_id
from models.errors import DomainError
from models.mailing import Mailing


def _argument(field: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for argument in field.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, VariableNode):
                return variables.get(value.name.value)
            return getattr(value, "value", None)
    return None


def _root_fields(document: DocumentNode, operation_name: str | None) -> Iterator[FieldNode]:
    """The operation's root fields with fragments and inline fragments expanded (validation
    has run: fragments exist, do not cycle, and carry no @skip/@include on a subscription root)."""
    operation = get_operation_ast(document, operation_name)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    pending: list[SelectionNode] = list(operation.selection_set.selections) if operation else []
    while pending:
        selection = pending.pop()
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            pending.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            pending.extend(fragments[selection.name.value].selection_set.selections)


class CheckSubscriptionTargets(SchemaExtension):
    async def on_validate(self) -> AsyncIterator[None]:
        """A subscription the validation found valid (CachedValidation, listed before this
        extension, has set its errors by now: none) gets its target checked, so the failure
        is a pre-execution error: a `error` message on the wire."""
        ctx = self.execution_context
        if ctx.operation_type == OperationType.SUBSCRIPTION and ctx.pre_execution_errors == []:
            ctx.pre_execution_errors = await self._missing_targets()
        yield

    async def _missing_targets(self) -> list[GraphQLError]:
        ctx = self.execution_context
        assert ctx.graphql_document is not None
        for field in _root_fields(ctx.graphql_document, ctx.operation_name):
            if field.name.value == "mailingStats":
                raw = _argument(field, "id", ctx.variables or {})
                try:
                    mailing_id = parse_id(strawberry.ID(str(raw)))
                except DomainError as exc:
                    return [domain_error(exc)]
                if not await Mailing.exists(id=mailing_id):
                    return [
                        GraphQLError(
                            f"mailing {raw} not found",
                            nodes=[field],
                            extensions={"code": "NOT_FOUND", "field": "id"},
                        )
                    ]
        return []
