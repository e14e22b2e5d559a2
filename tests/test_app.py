"""The HTTP edges around GraphQL: GraphiQL, /docs, the SDL, health."""

from __future__ import annotations

from pathlib import Path

import httpx
from graphql import build_schema, find_breaking_changes

CONTRACT = Path(__file__).parent / "contract" / "schema.graphql"


async def test_graphiql_page_served_offline(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "/static/graphiql/graphiql.min.js" in response.text
    asset = await client.get("/static/graphiql/graphiql.min.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


async def test_docs_redirects_to_graphiql(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/graphql"


async def test_sdl_matches_contract(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema.graphql")
    assert response.status_code == 200
    ours = build_schema(response.text)
    contract = build_schema(CONTRACT.read_text())
    # Subscriptions arrive in a later issue; everything else must be there, unchanged.
    breaking = [
        c for c in find_breaking_changes(contract, ours) if "Subscription" not in c.description
    ]
    assert breaking == []


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.json() == {"status": "ok"}
