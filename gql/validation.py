"""Parsing and validation once per distinct query text: dashboards and scripts send the same
few texts over and over, and under the bench's polling validation was ~29 % of the API
process's CPU.

Not strawberry's ParserCache and ValidationCache: the first raises a syntax error from inside
its hook, where it skips the error contract (the answer had no `extensions.code`); the second
always sets the errors, over any an earlier extension set."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, GraphQLSchema
from graphql.language import DocumentNode, parse
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

# Distinct query texts kept parsed and validated. Bounded: unique texts only evict each other.
CACHED_QUERIES = 256


@lru_cache(maxsize=CACHED_QUERIES)
def _parsed(query: str, **options: Any) -> DocumentNode:
    return parse(query, **options)


class CachedParse(SchemaExtension):
    """The document of a text parsed before (with the same options: the token limit) is
    handed out again; a text that does not parse is left to strawberry's own parse, which
    reports the error as any other (errors are not cached)."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.query and ctx.graphql_document is None:
            with contextlib.suppress(GraphQLError):
                ctx.graphql_document = _parsed(ctx.query, **ctx.parse_options)
        yield


@lru_cache(maxsize=CACHED_QUERIES)
def _validated(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> tuple[GraphQLError, ...]:
    """validate_document's errors, once per (schema, document, rules). A document is keyed by
    identity (graphql-core's nodes define no equality), so only a document CachedParse handed
    out again hits."""
    return tuple(validate_document(schema, document, rules))


class CachedValidation(SchemaExtension):
    """Sets the operation's validation errors (a fresh list: later extensions may replace
    it), so strawberry skips its own run; CheckSubscriptionTargets, listed after it, reads
    them."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.graphql_document is not None:
            ctx.pre_execution_errors = list(
                _validated(ctx.schema._schema, ctx.graphql_document, ctx.validation_rules)
            )
        yield
