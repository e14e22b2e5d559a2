"""The query cost limit: how many nodes an operation may ask for, computed before it runs.

GitHub's GraphQL API counts the same way: a connection asked for with `first: n` returns up to
n nodes *for each* object it hangs from, so a connection's nodes are the product of its `first`
and the `first`s of the connections around it, and an operation's cost is the sum over all its
connections (aliases are separate fields, fragments are expanded where they are spread,
variables are resolved, an omitted or null `first` counts as the default page). A `first` above
the page cap counts as the cap, which is what the resolvers serve. Unlike GitHub, a page also
counts as at least MIN_PAGE_COST nodes: its two SQL queries cost as much as that many nodes, so
many small pages are not cheaper than a few big ones. `@skip`/`@include` are ignored: the cost
is an upper bound. The measurements behind the numbers are in the README ("Limits").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from models.attempts import MAX_HISTORY
from models.client import known_zones
from models.errors import InvalidInput
from models.pages import MAX_PAGE, page_size
from models.preview import MAX_SAMPLE, sample_size
from models.timeline import MAX_BUCKETS

# Nodes one operation may ask for. Execution costs 0.2-0.5 ms per node here (strawberry and
# graphql-core, per field), whatever the table size, plus a count and a page query per page:
# at 1,000 the costliest allowed shapes answer in 0.37-0.53 s on 1M messages (SQLite and
# PostgreSQL), where the query ran for 52-69 s on 100k. `python -m bench.cost`;
# README, "Limits".
BUDGET = 1_000
# A page costs its count and page queries whatever its size: 100 pages of 9 (0.5-1.1 s) were
# slower than one of 500 (0.2 s), so a page counts as at least a default page.
MIN_PAGE_COST = 50
# Products beyond this are all "far too much"; stopping here keeps the arithmetic small even
# for documents that spread fragments into fragments.
_CEILING = 10**12


# List fields that grow with the data but are not connections: (type, field) -> the most
# entries one returns. Each entry is a node, multiplied like a connection's; a `first` argument
# counts as given, up to that maximum. Each is one query (batched across a request's parents
# for history), so no MIN_PAGE_COST. tests/gql/test_cost.py checks every list field of the
# schema with a `first` argument is either a connection or listed here (or in PAGED_LISTS).
BOUNDED_LISTS = {("Message", "history"): MAX_HISTORY, ("Mailing", "timeline"): MAX_BUCKETS}
# Lists with a `first` that are not connections, counted as a page of what they serve.
PAGED_LISTS: dict[tuple[str, str], tuple[Callable[[int | None], int], int]] = {
    ("Audience", "sample"): (sample_size, MAX_SAMPLE),
}
# Fields whose query returns a known number of rows whatever is selected below them: the
# audience preview's GROUP BY timezone gives a row per zone, at most every zone a client may
# have (597 with tzdata 2025), so one preview fits in an operation and a second does not.
FIXED_COSTS: dict[tuple[str, str], int] = {("Query", "audience"): len(known_zones())}


def _is_connection(field: GraphQLField) -> bool:
    named = get_named_type(field.type)
    return (
        "first" in field.args
        and isinstance(named, GraphQLObjectType)
        and {"edges", "pageInfo"} <= named.fields.keys()
    )


class _Walk:
    """Cost per selection set for a multiplier of one; the cost is linear in the multiplier,
    so a fragment is walked once however often it is spread."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: VariableValues
    ) -> None:
        self.schema, self.variables = schema, variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.fragment_costs: dict[str, int] = {}

    def selections(self, parent: GraphQLObjectType, selection_set: SelectionSetNode) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                total += self.selections(
                    self._condition(selection.type_condition, parent), selection.selection_set
                )
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, parent)
        return min(total, _CEILING)

    def fragment(self, name: str, parent: GraphQLObjectType) -> int:
        if name not in self.fragment_costs:
            self.fragment_costs[name] = 0  # validation forbids cycles; this ends one anyway
            definition = self.fragments.get(name)
            if definition is not None:
                self.fragment_costs[name] = self.selections(
                    self._condition(definition.type_condition, parent), definition.selection_set
                )
        return self.fragment_costs[name]

    def field(self, parent: GraphQLObjectType, node: FieldNode) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None or node.selection_set is None:
            return 0  # __typename, scalars
        named = get_named_type(definition.type)
        inner = (
            self.selections(named, node.selection_set)
            if isinstance(named, GraphQLObjectType)
            else 0
        )
        where = (parent.name, node.name.value)
        bound = BOUNDED_LISTS.get(where)
        if bound is not None:
            listed = self._list_size(definition, node, bound)
            return min(listed + listed * inner, _CEILING)
        if where in PAGED_LISTS:
            size = self._size(definition, node, *PAGED_LISTS[where])
        elif _is_connection(definition):
            size = self._size(definition, node)
        else:
            return min(inner + FIXED_COSTS.get(where, 0), _CEILING)
        return min(max(size, MIN_PAGE_COST) + size * inner, _CEILING)

    def _list_size(self, definition: GraphQLField, node: FieldNode, bound: int) -> int:
        """A bounded list's `first` as given (within 0..bound), else the bound."""
        if "first" not in definition.args:
            return bound
        try:
            first = get_argument_values(definition, node, self.variables).get("first")
        except GraphQLError:
            return bound  # execution reports the bad argument
        return min(max(first, 0), bound) if isinstance(first, int) else bound

    def _size(
        self,
        definition: GraphQLField,
        node: FieldNode,
        serve: Callable[[int | None], int] = page_size,
        cap: int = MAX_PAGE,
    ) -> int:
        """The page the resolver will serve: the default for none/null, the cap above it."""
        try:
            first = get_argument_values(definition, node, self.variables).get("first")
            return serve(first)
        except (GraphQLError, InvalidInput):
            return cap  # execution reports the bad argument; count the most it could be

    def _condition(self, condition: Any, parent: GraphQLObjectType) -> GraphQLObjectType:
        named = self.schema.get_type(condition.name.value) if condition else None
        return named if isinstance(named, GraphQLObjectType) else parent


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> int:
    """Nodes the operation may return; 0 when it cannot run at all (no such operation, bad
    variables), which execution then reports before any resolver runs."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    values = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if root is None or isinstance(values, list):
        return 0
    return _Walk(schema, document, values).selections(root, operation.selection_set)


def over_budget(cost: int, budget: int) -> GraphQLError:
    return GraphQLError(
        f"query cost {cost:,} nodes exceeds the budget of {budget:,}: each connection counts"
        f" its `first` (50 when omitted, at most {MAX_PAGE}, at least {MIN_PAGE_COST}) times"
        " the `first`s of the connections around it (Message.history its `first`, up to"
        f" {MAX_HISTORY}; Mailing.timeline {MAX_BUCKETS}); ask for smaller pages and follow"
        " `pageInfo.endCursor`",
        extensions={"code": "BAD_USER_INPUT", "cost": cost, "budget": budget},
    )


class CostLimit(SchemaExtension):
    """Refuses an operation over the node budget before any resolver runs, and reports the
    cost of an accepted one in the response's `extensions.cost`."""

    def __init__(self, budget: int | None = None) -> None:
        self.budget = BUDGET if budget is None else budget
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if ctx.result is None and document is not None:
            operation = get_operation_ast(document, ctx.operation_name)
            if operation is not None and operation.operation != OperationType.SUBSCRIPTION:
                self.cost = operation_cost(
                    ctx.schema._schema, document, ctx.operation_name, ctx.variables
                )
                if self.cost > self.budget:
                    ctx.result = ExecutionResult(
                        data=None, errors=[over_budget(self.cost, self.budget)]
                    )
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": {"nodes": self.cost, "budget": self.budget}}
