"""Subscription arguments checked before the stream starts, so an unknown mailing id is a
protocol `error` message for that operation (the connection and other operations go on)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import strawberry
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, VariableNode
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
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


class CheckSubscriptionTargets(SchemaExtension):
    async def on_validate(self) -> AsyncIterator[None]:
        """Runs validation itself (strawberry then skips its own run) and adds the target
        check, so the failure is a pre-execution error: a `error` message on the wire."""
        ctx = self.execution_context
        if (
            ctx.operation_type == OperationType.SUBSCRIPTION
            and ctx.graphql_document is not None
            and ctx.pre_execution_errors is None
        ):
            errors = list(
                validate_document(ctx.schema._schema, ctx.graphql_document, ctx.validation_rules)
            )
            ctx.pre_execution_errors = errors or await self._missing_targets()
        yield

    async def _missing_targets(self) -> list[GraphQLError]:
        ctx = self.execution_context
        assert ctx.graphql_document is not None
        for definition in ctx.graphql_document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            for field in definition.selection_set.selections:
                if isinstance(field, FieldNode) and field.name.value == "mailingStats":
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
