"""Idempotency keys on createMailing and createClient: a retry whose first answer was lost gets
the same object, never a second row; the key is kept for a day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gql.context import Context
from gql.schema import build_schema
from herald.settings import Settings
from models.client import Client
from models.idempotency import TTL, IdempotencyKey, purge_expired
from models.mailing import Mailing
from models.token import Role
from tests.support.api import GQL, error_of

CREATE_MAILING = """mutation($input: MailingInput!, $key: String) {
  createMailing(input: $input, idempotencyKey: $key) { id text } }"""
CREATE_CLIENT = """mutation($input: ClientInput!, $key: String) {
  createClient(input: $input, idempotencyKey: $key) { id phone } }"""


def mailing_input(text: str = "Hello", now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {
        "text": text,
        "startAt": (now + timedelta(hours=1)).isoformat(),
        "endAt": (now + timedelta(days=3)).isoformat(),
        "filter": {"tags": ["vip"]},
    }


async def test_retry_returns_the_same_mailing(gql: GQL) -> None:
    data = mailing_input()
    first = await gql.ok(CREATE_MAILING, input=data, key="order-1")
    again = await gql.ok(CREATE_MAILING, input=data, key="order-1")
    assert again == first
    assert await Mailing.all().count() == 1
    other = await gql.ok(CREATE_MAILING, input=data, key="order-2")
    assert other["createMailing"]["id"] != first["createMailing"]["id"]
    await gql.ok(CREATE_MAILING, input=data)  # no key: a new mailing every time
    assert await Mailing.all().count() == 3


async def test_same_key_with_other_input_is_a_conflict(gql: GQL) -> None:
    await gql.ok(CREATE_MAILING, input=mailing_input("Hello"), key="k")
    body = await gql(CREATE_MAILING, input=mailing_input("Bye"), key="k")
    assert error_of(body) == {"code": "CONFLICT", "field": "idempotencyKey"}
    client = {"phone": "79160000001", "timezone": "UTC"}
    await gql.ok(CREATE_CLIENT, input=client, key="k")  # keys are per mutation
    body = await gql(CREATE_CLIENT, input={**client, "tag": "vip"}, key="k")
    assert error_of(body) == {"code": "CONFLICT", "field": "idempotencyKey"}
    assert await Mailing.all().count() == 1 and await Client.all().count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "line\nbreak", "nul\x00"])
async def test_bad_keys_are_bad_user_input(gql: GQL, key: str) -> None:
    body = await gql(CREATE_MAILING, input=mailing_input(), key=key)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "idempotencyKey"}
    body = await gql(CREATE_CLIENT, input={"phone": "79160000001", "timezone": "UTC"}, key=key)
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "idempotencyKey"}
    assert await Mailing.all().count() == 0 and await Client.all().count() == 0


async def test_a_255_character_key_is_accepted(gql: GQL) -> None:
    key, data = "k" * 255, mailing_input()
    first = await gql.ok(CREATE_MAILING, input=data, key=key)
    assert await gql.ok(CREATE_MAILING, input=data, key=key) == first


async def test_client_retry_returns_the_same_client(gql: GQL) -> None:
    client = {"phone": "79160000001", "timezone": "Europe/Moscow", "tag": "vip"}
    first = await gql.ok(CREATE_CLIENT, input=client, key="c-1")
    # Without the key the retry would be a CONFLICT on phone; with it, the same answer.
    assert await gql.ok(CREATE_CLIENT, input=client, key="c-1") == first
    body = await gql(CREATE_CLIENT, input=client)
    assert error_of(body) == {"code": "CONFLICT", "field": "phone"}


async def test_concurrent_retries_create_one_row(gql: GQL) -> None:
    data = mailing_input()
    answers = await asyncio.gather(
        *(gql.ok(CREATE_MAILING, input=data, key="burst") for _ in range(6))
    )
    assert len({a["createMailing"]["id"] for a in answers}) == 1
    assert await Mailing.all().count() == 1
    client = {"phone": "79160000002", "timezone": "UTC"}
    answers = await asyncio.gather(
        *(gql.ok(CREATE_CLIENT, input=client, key="burst") for _ in range(6))
    )
    assert len({a["createClient"]["id"] for a in answers}) == 1
    assert await Client.all().count() == 1
    assert await IdempotencyKey.all().count() == 2


async def test_a_key_is_kept_for_a_day(database: str, settings: Settings) -> None:
    """Through the schema with an injected clock: no sleeps."""
    schema = build_schema()
    t0 = datetime.now(UTC).replace(microsecond=0)

    async def create(at: datetime) -> str:
        context = Context(settings=settings, role=Role.ADMIN, clock=lambda: at)
        variables = {"input": mailing_input(now=t0), "key": "daily"}
        result = await schema.execute(
            CREATE_MAILING, variable_values=variables, context_value=context
        )
        assert not result.errors, result.errors
        assert result.data is not None
        return str(result.data["createMailing"]["id"])

    first = await create(t0)
    assert await create(t0 + TTL - timedelta(seconds=1)) == first
    assert await Mailing.all().count() == 1
    assert await purge_expired(t0 + TTL - timedelta(seconds=1)) == 0
    later = await create(t0 + TTL + timedelta(seconds=1))  # expired: ignored, a new mailing
    assert later != first and await Mailing.all().count() == 2
    assert await create(t0 + TTL + timedelta(seconds=2)) == later
    assert await purge_expired(t0 + 2 * TTL + timedelta(seconds=2)) == 1
    assert await IdempotencyKey.all().count() == 0
