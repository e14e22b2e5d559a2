"""Auth for every operation: no role → UNAUTHENTICATED; a viewer's mutation → FORBIDDEN.

Introspection-only queries are allowed without a token: the SDL is public at /schema.graphql
anyway, and GraphiQL needs it before the user has pasted a token."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult, FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from models.errors import Forbidden
from models.token import Role


def require_admin(role: Role | None, what: str) -> None:
    """For the few queries viewers may not run (`tokens`): FORBIDDEN on the field."""
    if role != Role.ADMIN:
        raise Forbidden(f"{what} is for admin tokens only")


def _error(message: str, code: str) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code})])


def _introspection_only(operation: OperationDefinitionNode | None) -> bool:
    if operation is None or operation.operation.value != "query":
        return False
    selections = operation.selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value.startswith("__") for s in selections)


class RequireRole(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        role: Role | None = getattr(ctx.context, "role", None)
        operation = None
        document = ctx.graphql_document
        if document is not None:
            ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            named = [
                o
                for o in ops
                if not ctx.operation_name or (o.name and o.name.value == ctx.operation_name)
            ]
            operation = named[0] if named else None
        if role is None and not _introspection_only(operation):
            ctx.result = _error("missing or invalid bearer token", "UNAUTHENTICATED")
        elif role == Role.VIEWER and ctx.operation_type == OperationType.MUTATION:
            ctx.result = _error("viewer tokens cannot run mutations", "FORBIDDEN")
        yield
