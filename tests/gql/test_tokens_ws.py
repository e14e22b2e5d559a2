"""Revoked tokens over websockets (a real uvicorn): a new connection_init is refused (4401),
and an open connection is closed (4401, "Token revoked") at its next operation."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed

from models.token import ApiToken, Role, create_token
from tests.support.api import GQL
from tests.support.ws import acked, open_ws, receive

STATS = "{ stats { mailings } }"
REVOKE = "mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }"


def subscribe(op_id: str, query: str) -> str:
    return json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}})


async def closed_with(ws: object) -> tuple[int | None, str]:
    with pytest.raises(ConnectionClosed):
        while True:
            await receive(ws)  # type: ignore[arg-type]
    return ws.close_code, ws.close_reason or ""  # type: ignore[attr-defined]


async def test_revoked_token_closes_its_websocket_at_the_next_operation(
    url: str, gql: GQL, admin_token: str
) -> None:
    secret = await create_token(Role.VIEWER, name="dash")
    token_id = (await ApiToken.get(name="dash")).id
    ws = await acked(url, secret)
    kept = await acked(url, admin_token)  # API_ADMIN_TOKEN: nothing to revoke, never closed
    await ws.send(subscribe("1", STATS))
    assert (await receive(ws))["type"] == "next"
    assert (await receive(ws))["type"] == "complete"
    await gql.ok(REVOKE, id=str(token_id))
    await ws.send(subscribe("2", STATS))
    assert await closed_with(ws) == (4401, "Token revoked")
    fresh = await open_ws(url, secret)
    assert await closed_with(fresh) == (4401, "Unauthorized")
    await kept.send(subscribe("1", STATS))
    assert (await receive(kept))["payload"]["data"] == {"stats": {"mailings": 0}}
    await kept.close()
