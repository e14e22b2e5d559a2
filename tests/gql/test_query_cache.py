"""A query text is parsed and validated once (gql/validation.py), through the real app: a
repeat hits both caches, and what a repeat is answered is what the first was answered, limits
and error contract included."""

from __future__ import annotations

from gql.validation import _parsed, _validated
from tests.support.api import GQL, error_of

STATS = "{ stats { messages } }"
DEEP = (
    "{ mailings { edges { node { messages { edges { node { mailing { messages { edges {"
    " node { mailing { messages { edges { node { id } } } } } } } } } } } } } } }"
)


async def test_a_repeated_text_is_parsed_and_validated_once(gql: GQL) -> None:
    query = STATS + " # " + __name__  # a text no other test sends
    first = await gql.ok(query)
    parsed, validated = _parsed.cache_info(), _validated.cache_info()
    assert await gql.ok(query) == first
    assert _parsed.cache_info().hits == parsed.hits + 1
    assert _parsed.cache_info().misses == parsed.misses
    assert _validated.cache_info().hits == validated.hits + 1
    assert _validated.cache_info().misses == validated.misses


async def test_a_repeat_gets_the_same_refusals(gql: GQL) -> None:
    aliases = "{ " + " ".join(f"a{i}: stats {{ messages }}" for i in range(40)) + " }"
    for refused in (DEEP, aliases, "{ stats { nope } }", "{ stats {"):
        answers = [error_of(await gql(refused)) for _ in range(3)]
        assert answers == [{"code": "BAD_USER_INPUT", "field": None}] * 3, refused


async def test_a_syntax_error_is_not_cached(gql: GQL) -> None:
    before = _parsed.cache_info()
    for _ in range(2):
        assert error_of(await gql("{ stats { messages "))["code"] == "BAD_USER_INPUT"
    assert _parsed.cache_info().currsize == before.currsize
    assert _parsed.cache_info().hits == before.hits
