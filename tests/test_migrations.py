"""Every migration applies from empty, and the result matches the models exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate as migrate_api

from herald import db
from herald.db import tortoise_config
from models.sql import db as connection
from models.sql import is_postgres
from tests.support.database import BACKENDS, pg_url, reset_postgres_schema


async def _sqlite_shape() -> dict[str, object]:
    conn = connection()
    tables = [
        r["name"]
        for r in await conn.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'tortoise_migrations' ORDER BY name"
        )
    ]
    shape: dict[str, object] = {}
    for table in tables:
        columns = await conn.execute_query_dict(f"PRAGMA table_info('{table}')")
        indexes = await conn.execute_query_dict(f"PRAGMA index_list('{table}')")
        index_cols = []
        for index in indexes:
            cols = await conn.execute_query_dict(f"PRAGMA index_info('{index['name']}')")
            index_cols.append((bool(index["unique"]), tuple(c["name"] for c in cols)))
        fks = await conn.execute_query_dict(f"PRAGMA foreign_key_list('{table}')")
        shape[table] = (
            sorted((c["name"], c["type"], bool(c["notnull"]), bool(c["pk"])) for c in columns),
            sorted(index_cols),
            sorted((f["from"], f["table"], f["on_delete"]) for f in fks),
        )
    return shape


async def _postgres_shape() -> dict[str, object]:
    conn = connection()
    columns = await conn.execute_query_dict(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema='public' AND table_name != 'tortoise_migrations'"
    )
    indexes = await conn.execute_query_dict(
        "SELECT tablename, regexp_replace(indexdef, '^.* USING ', '') AS def FROM pg_indexes"
        " WHERE schemaname='public' AND tablename != 'tortoise_migrations'"
    )
    shape: dict[str, object] = {}
    for table in sorted({c["table_name"] for c in columns}):
        shape[table] = (
            sorted(
                (c["column_name"], c["data_type"], c["is_nullable"])
                for c in columns
                if c["table_name"] == table
            ),
            sorted(i["def"] for i in indexes if i["tablename"] == table),
        )
    return shape


async def _shape() -> dict[str, object]:
    return await (_postgres_shape() if is_postgres() else _sqlite_shape())


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'fresh.sqlite3'}"
    return pg_url()


async def test_migrations_match_models(empty_url: str, tmp_path: Path) -> None:
    if "postgres" in empty_url:
        await reset_postgres_schema(empty_url)
    await db.migrate(empty_url)
    await db.migrate(empty_url)  # a second run finds nothing to do
    await db.connect(empty_url)
    try:
        migrated = await _shape()
        applied = await connection().execute_query_dict("SELECT name FROM tortoise_migrations")
        await connection().execute_script(
            "DROP SCHEMA public CASCADE; CREATE SCHEMA public;" if is_postgres() else ""
        )
    finally:
        await db.disconnect()
    reference = empty_url if "postgres" in empty_url else f"sqlite://{tmp_path / 'ref.sqlite3'}"
    await db.connect(reference)
    try:
        await Tortoise.generate_schemas()
        generated = await _shape()
    finally:
        postgres = is_postgres()
        if postgres:
            await connection().execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        await db.disconnect()
        if postgres:  # leave the shared test database migrated for the other tests
            await db.migrate(reference)
    assert len(applied) == len(list(Path("migrations").glob("0*.py")))
    tables = {
        *("api_token", "client", "mailing", "message", "mailing_stat", "idempotency_key"),
        "worker_heartbeat",
        "test_send",
        "message_attempt",
        "daily_report",
    }
    assert set(migrated) == tables
    assert migrated == generated
    assert "REFERENCES" not in str(migrated["message"])  # message has no FK (models/message.py)


async def test_existing_mailings_get_their_folded_text(empty_url: str) -> None:
    """0008_find adds mailing.text_folded (what the text search matches) and fills it for the
    mailings already there, Cyrillic included."""
    if "postgres" in empty_url:
        await reset_postgres_schema(empty_url)
    await migrate_api(config=tortoise_config(empty_url), target="models.0004_worker_heartbeat")
    await db.connect(empty_url)
    try:
        await connection().execute_script(
            "INSERT INTO mailing (text, start_at, end_at, operator_codes, tags, state,"
            " created_at, updated_at) VALUES ('Скидка ДНЯ', '2030-01-01 00:00:00+00:00',"
            " '2030-01-02 00:00:00+00:00', '[]', '[]', 'SCHEDULED', '2030-01-01 00:00:00+00:00',"
            " '2030-01-01 00:00:00+00:00')"
        )
    finally:
        await db.disconnect()
    await db.migrate(empty_url)
    await db.connect(empty_url)
    try:
        rows = await connection().execute_query_dict("SELECT text_folded FROM mailing")
    finally:
        if is_postgres():  # leave the shared test database empty and migrated
            await connection().execute_script("DELETE FROM mailing")
        await db.disconnect()
    assert rows == [{"text_folded": "скидка дня"}]
