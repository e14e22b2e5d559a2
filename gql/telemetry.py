"""Prometheus counts of GraphQL operations: by type, root field and outcome, with latency.

Labels come from the schema, never from the client: the root field is the first field of the
operation's selection when the schema has it (the client's operation name is free text, so it
is not a label), and the outcome is `ok` or the contract's error code. Successful pause, resume
and cancel mutations are also mailing state transitions (the jobs count start and finish)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import FieldNode, GraphQLError, get_operation_ast
from strawberry.extensions import SchemaExtension

import metrics
from gql.errors import INTERNAL, KNOWN_CODES

UNKNOWN = "unknown"


class OperationMetrics(SchemaExtension):
    """First in the schema's extensions, so it sees the errors after ErrorContract mapped them."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        kind, field = self._operation()
        metrics.GRAPHQL_DURATION.labels(type=kind, field=field).observe(
            time.perf_counter() - started
        )
        outcome = self._outcome()
        metrics.GRAPHQL_OPERATIONS.labels(type=kind, field=field, outcome=outcome).inc()

    def _operation(self) -> tuple[str, str]:
        context = self.execution_context
        document = context.graphql_document
        if document is None:
            return UNKNOWN, UNKNOWN
        try:
            operation = get_operation_ast(document, context.operation_name)
        except GraphQLError:
            operation = None
        if operation is None:
            return UNKNOWN, UNKNOWN
        kind = operation.operation.value
        root = context.schema._schema.get_root_type(operation.operation)
        first = next(iter(operation.selection_set.selections), None)
        if root is None or not isinstance(first, FieldNode) or first.name.value not in root.fields:
            return kind, UNKNOWN
        return kind, first.name.value

    def _outcome(self) -> str:
        result = self.execution_context.result
        errors = getattr(result, "errors", None) or self.execution_context.pre_execution_errors
        if not errors:
            return "ok"
        code = (errors[0].extensions or {}).get("code")
        return code if code in KNOWN_CODES else INTERNAL
