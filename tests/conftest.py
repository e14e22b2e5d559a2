"""Shared fixtures: a real database with migrations applied (SQLite always, PostgreSQL too
when TEST_DATABASE_URL is set), the real app over HTTP, and tokens made at run time."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from herald import db
from herald.app import AppState, create_app
from herald.settings import Settings
from models.sql import db as connection
from models.sql import is_postgres

TABLES = ("message", "mailing_stat", "mailing", "client", "api_token", "idempotency_key")
BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("TEST_DATABASE_URL") else [])


def _pg_url() -> str:
    url = os.environ["TEST_DATABASE_URL"]
    return "postgres://" + url.split("://", 1)[1]


async def reset_postgres_schema(url: str) -> None:
    await db.connect(url)
    try:
        await connection().execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await db.disconnect()


@pytest.fixture(scope="session")
def migrated_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    urls = {"sqlite": f"sqlite://{tmp_path_factory.mktemp('db') / 'herald.sqlite3'}"}
    if "postgres" in BACKENDS:
        urls["postgres"] = _pg_url()
        asyncio.run(reset_postgres_schema(urls["postgres"]))
    for url in urls.values():
        asyncio.run(db.migrate(url))
    return urls


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, migrated_urls: dict[str, str]) -> str:
    return migrated_urls[request.param]


async def truncate_all() -> None:
    if is_postgres():
        await connection().execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    else:
        await connection().execute_script(
            "".join(f"DELETE FROM {t};" for t in TABLES) + "DELETE FROM sqlite_sequence;"
        )


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    await db.connect(database_url)
    await truncate_all()
    try:
        yield database_url
    finally:
        await db.disconnect()


@pytest.fixture
def admin_token() -> str:
    return "adm_" + secrets.token_urlsafe(16)


@pytest.fixture
def settings(database_url: str, admin_token: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "API_ADMIN_TOKEN": admin_token,
            "DATA_DIR": str(tmp_path),
        }
    )


@pytest.fixture
async def client(database: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(AppState(settings=settings, manage_db=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
        yield http


class GQL:
    """Posts GraphQL operations with a bearer token and returns the decoded response."""

    def __init__(self, http: httpx.AsyncClient, token: str | None) -> None:
        self.http, self.token = http, token

    async def __call__(
        self, query: str, token: str | None = "default", **variables: Any
    ) -> dict[str, Any]:
        token = self.token if token == "default" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self(query, **variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture
def gql(client: httpx.AsyncClient, admin_token: str) -> GQL:
    return GQL(client, admin_token)


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    """The single error of a failed operation (code and field), for terse assertions."""
    assert body.get("errors"), body
    error: dict[str, Any] = body["errors"][0]
    return {"code": error["extensions"]["code"], "field": error["extensions"].get("field")}
