"""The query cost limit (gql/cost.py): the node count as a table, then the API refusing
over-budget operations before execution and answering the largest allowed one on 100,000
seeded messages."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from graphql import GraphQLList, GraphQLObjectType, get_named_type, get_nullable_type, parse

from bench.cost import nested, seed
from gql.cost import (
    BOUNDED_LISTS,
    BUDGET,
    MIN_PAGE_COST,
    PAGED_LISTS,
    _is_connection,
    operation_cost,
)
from gql.schema import build_schema
from models.attempts import MAX_HISTORY
from models.client import known_zones
from models.pages import MAX_PAGE
from models.timeline import MAX_BUCKETS
from models.token import Role, create_token
from tests.support.api import GQL

SCHEMA = build_schema()._schema
ZONES = len(known_zones())
ISSUE = "{ " + nested(500, 500) + " }"
FRAGMENTS = """
query Heavy { ...Root }
fragment Root on Query { mailings(first: 500) { edges { node { ...Page } } } }
fragment Page on Mailing { messages(first: 500) { edges { node { ...Row } } } }
fragment Row on Message { id phone mailing { id text } client { id phone } }
"""
BY_VARIABLES = """query($outer: Int, $inner: Int) {
  mailings(first: $outer) { edges { node { messages(first: $inner) { totalCount } } } } }"""
CASES: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("no connection", "{ stats { mailings } }", None, 0),
    ("default first", "{ clients { edges { node { id } } } }", None, 50),
    ("explicit first", "{ clients(first: 80) { totalCount } }", None, 80),
    ("a page counts at least 50", "{ clients(first: 10) { totalCount } }", None, 50),
    ("null first is the default", "{ clients(first: null) { totalCount } }", None, 50),
    ("first above the cap counts the cap", "{ clients(first: 5000) { totalCount } }", None, 500),
    ("tokens is a connection", "{ tokens(first: 300) { totalCount } }", None, 300),
    (
        "aliased tokens add up",
        "{ a: tokens(first: 500) { totalCount } b: tokens { totalCount } }",
        None,
        550,
    ),
    ("first: 0 still counts its count query", "{ mailings(first: 0) { totalCount } }", None, 50),
    (
        "nothing nested under first: 0",
        "{ mailings(first: 0) { edges { node { messages(first: 500) { totalCount } } } } }",
        None,
        50,
    ),
    ("the issue's query", ISSUE, None, 250_500),
    (
        "three aliased copies",
        "{ " + " ".join(nested(500, 500, f"c{i}: ") for i in range(3)) + " }",
        None,
        751_500,
    ),
    ("fragments expanded", FRAGMENTS, None, 250_500),
    (
        "a fragment spread twice counts twice",
        "{ a: mailings(first: 3) { ...M } b: mailings(first: 4) { ...M } } fragment M"
        " on MailingConnection { edges { node { messages(first: 10) { totalCount } } } }",
        None,
        50 + 3 * 50 + 50 + 4 * 50,
    ),
    (
        "inline fragment",
        "{ mailings(first: 2) { edges { node {"
        " ... on Mailing { messages(first: 5) { totalCount } } } } } }",
        None,
        50 + 2 * 50,
    ),
    ("variables resolved", BY_VARIABLES, {"outer": 100, "inner": 100}, 100 + 10_000),
    ("variables omitted: defaults", BY_VARIABLES, {}, 50 + 2_500),
    (
        "variable defaults",
        "query($n: Int = 20) { mailings(first: $n) {"
        " edges { node { messages(first: $n) { totalCount } } } } }",
        {},
        50 + 20 * 50,
    ),
    (
        "nested through message.mailing",
        '{ mailing(id: "1") { messages(first: 10) { edges { node { mailing {'
        " messages(first: 10) { totalCount } } } } } } }",
        None,
        50 + 10 * 50,
    ),
    (
        "mutations count too",
        'mutation { pauseMailing(id: "1") { messages(first: 70) { totalCount } } }',
        None,
        70,
    ),
    ("invalid variables: nothing runs", BY_VARIABLES, {"outer": "many"}, 0),
    (
        "Mailing.testSends is a connection like messages",
        "{ mailings(first: 500) { edges { node { testSends(first: 500) { totalCount } } } } }",
        None,
        250_500,
    ),
    (
        "testSends beside messages",
        "{ mailings(first: 10) { edges { node { messages(first: 20) { totalCount }"
        " testSends { totalCount } } } } }",
        None,
        50 + 10 * 50 + 10 * 50,
    ),
    (
        "testSend's answer counts its own connections",
        'mutation { testSend(mailingId: "1", phone: "79161234567") { id } cloneMailing(id: "1")'
        " { testSends(first: 100) { totalCount } } }",
        None,
        100,
    ),
    (
        "history: its default per message",
        '{ mailing(id: "1") { messages(first: 50) { edges { node { history { at } } } } } }',
        None,
        50 + 50 * 10,
    ),
    (
        "history above its cap counts the cap",
        '{ mailing(id: "1") { messages(first: 10) { edges { node {'
        " history(first: 1000) { at } } } } } }",
        None,
        50 + 10 * MAX_HISTORY,
    ),
    (
        "history under a full page is refused",
        '{ mailing(id: "1") { messages(first: 500) { edges { node { history(first: 2) { at } }'
        " } } } }",
        None,
        500 + 500 * 2,
    ),
    (
        "a timeline counts its most buckets",
        '{ mailing(id: "1") { timeline(bucket: SECOND) { sent } } }',
        None,
        MAX_BUCKETS,
    ),
    (
        "a timeline per mailing",
        "{ mailings(first: 3) { edges { node { timeline(bucket: HOUR) { sent } } } } }",
        None,
        50 + 3 * MAX_BUCKETS,
    ),
    (
        "perMailingConnection is a connection",
        "{ stats { perMailingConnection(first: 80) { edges { node { total } } } } }",
        None,
        80,
    ),
    ("an audience counts a row per zone", "{ audience(filter: {}) { count } }", None, ZONES),
    (
        "its sample counts as a page of at most 50",
        "{ audience(filter: {}) { sample(first: 500) { id } } }",
        None,
        ZONES + 50,
    ),
    (
        "a small sample counts 50",
        "{ audience(filter: {}) { byTimezone { zone } sample(first: 3) { id } } }",
        None,
        ZONES + 50,
    ),
    (
        "two audiences",
        "{ a: audience(filter: {}) { count } b: audience(filter: {}) { count } }",
        None,
        2 * ZONES,
    ),
]


@pytest.mark.parametrize(
    "query,variables,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_operation_cost(query: str, variables: dict[str, Any] | None, expected: int) -> None:
    assert operation_cost(SCHEMA, parse(query), None, variables) == expected


def test_every_list_that_grows_with_the_data_is_counted() -> None:
    """A field returning a list of objects with a `first` argument, or the timeline, is
    either a connection or one of the bounded or paged lists the cost counts."""
    uncounted = [
        f"{name}.{field_name}"
        for name, named in SCHEMA.type_map.items()
        if isinstance(named, GraphQLObjectType) and not name.startswith("__")
        for field_name, definition in named.fields.items()
        if isinstance(get_nullable_type(definition.type), GraphQLList)
        and isinstance(get_named_type(definition.type), GraphQLObjectType)
        and "first" in definition.args
        and not _is_connection(definition)
        and (name, field_name) not in BOUNDED_LISTS
        and (name, field_name) not in PAGED_LISTS
    ]
    assert uncounted == []
    for name, field_name in BOUNDED_LISTS:
        named = SCHEMA.type_map[name]
        assert isinstance(named, GraphQLObjectType) and field_name in named.fields


def test_only_the_chosen_operation_counts() -> None:
    document = parse(
        "query A { clients(first: 5) { totalCount } } query B { clients(first: 70) { totalCount } }"
    )
    assert operation_cost(SCHEMA, document, "B", None) == 70


def test_fragments_spread_into_fragments_are_counted_once_each() -> None:
    """60 levels of a fragment spreading the next one twice: 2**60 connections, counted in
    linear time (walked once per fragment) and saturated, never walked 2**60 times."""
    levels = 60
    page = "messages(first: 1) {{ edges {{ node {{ mailing {{ ...F{} }} }} }} }}"
    fragments = " ".join(
        f"fragment F{i} on Mailing {{ a: {page.format(i + 1)} b: {page.format(i + 1)} }}"
        for i in range(levels)
    )
    document = parse(
        f'{{ mailing(id: "1") {{ ...F0 }} }} {fragments}'
        f" fragment F{levels} on Mailing {{ messages(first: 500) {{ totalCount }} }}"
    )
    started = time.perf_counter()
    assert operation_cost(SCHEMA, document, None, None) > BUDGET
    assert time.perf_counter() - started < 1


def cost_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] is None, "refused before execution"
    (error,) = body["errors"]
    extensions: dict[str, Any] = error["extensions"]
    return extensions


async def viewer(gql: GQL) -> GQL:
    return GQL(gql.http, await create_token(Role.VIEWER, name="dashboard"))


async def test_issue_query_refused_with_its_cost(
    gql: GQL, caplog: pytest.LogCaptureFixture
) -> None:
    await seed(mailings=3, clients=3)
    with caplog.at_level(logging.INFO):
        body = await (await viewer(gql))(ISSUE)
    assert cost_error(body) == {"code": "BAD_USER_INPUT", "cost": 250_500, "budget": BUDGET}
    assert "250,500" in body["errors"][0]["message"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]


async def test_nested_test_sends_refused(gql: GQL) -> None:
    query = "{ mailings(first: 100) { edges { node { testSends(first: 100) { totalCount } } } } }"
    body = await gql(query)
    assert cost_error(body) == {"code": "BAD_USER_INPUT", "cost": 10_100, "budget": BUDGET}


async def test_three_aliased_copies_refused(gql: GQL) -> None:
    query = "{ " + " ".join(nested(500, 500, f"copy{i}: ") for i in range(3)) + " }"
    assert cost_error(await (await viewer(gql))(query))["cost"] == 751_500


async def test_fragment_variant_refused(gql: GQL) -> None:
    assert cost_error(await gql(FRAGMENTS))["cost"] == 250_500


async def test_one_audience_preview_per_operation(gql: GQL) -> None:
    one = await gql("{ audience(filter: {}) { count sample { id } } }")
    assert one["extensions"]["cost"] == {"nodes": ZONES + 50, "budget": BUDGET}
    two = "{ a: audience(filter: {}) { count } b: audience(filter: {}) { count } }"
    assert cost_error(await gql(two))["cost"] == 2 * ZONES


async def test_variables_counted(gql: GQL) -> None:
    await seed(mailings=2, clients=3)
    assert cost_error(await gql(BY_VARIABLES, outer=500, inner=500))["cost"] == 250_500
    body = await gql(BY_VARIABLES, outer=5, inner=100)
    assert not body.get("errors"), body
    assert len(body["data"]["mailings"]["edges"]) == 2
    assert body["extensions"]["cost"] == {"nodes": 50 + 5 * 100, "budget": BUDGET}


# The issue's shape as big as the budget allows: with the most pages (each a count and a page
# query), and with full pages.
LARGEST = [((BUDGET - MIN_PAGE_COST) // MIN_PAGE_COST, MIN_PAGE_COST), (1, MAX_PAGE)]


@pytest.mark.parametrize("outer,inner", LARGEST, ids=["most pages", "full pages"])
async def test_largest_allowed_query_answers_on_100k_messages(
    gql: GQL, database: str, outer: int, inner: int
) -> None:
    await seed(mailings=200, clients=500)
    cost = MIN_PAGE_COST + outer * inner
    assert cost <= BUDGET < cost + max(inner, MIN_PAGE_COST)
    assert cost_error(await gql("{ " + nested(outer + 1, inner) + " }"))["cost"] > BUDGET
    started = time.perf_counter()
    body = await (await viewer(gql))("{ " + nested(outer, inner) + " }")
    elapsed = time.perf_counter() - started
    assert not body.get("errors"), body
    assert body["extensions"]["cost"] == {"nodes": cost, "budget": BUDGET}
    edges = body["data"]["mailings"]["edges"]
    assert len(edges) == outer
    assert all(len(e["node"]["messages"]["edges"]) == inner for e in edges)
    assert edges[0]["node"]["messages"]["totalCount"] == 500
    backend = "PostgreSQL" if database.startswith("postgres") else "SQLite"
    print(f"\nmailings({outer}) x messages({inner}), {cost} nodes, {backend}: {elapsed:.3f} s")
