"""The test databases: SQLite always, PostgreSQL too when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os

from herald import db
from models.sql import db as connection
from models.sql import is_postgres

TABLES = (
    "test_send",
    "message_attempt",
    "message",
    "mailing_stat",
    "mailing",
    "client",
    "api_token",
    "idempotency_key",
    "worker_heartbeat",
    "daily_report",
)
BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("TEST_DATABASE_URL") else [])


def pg_url() -> str:
    url = os.environ["TEST_DATABASE_URL"]
    return "postgres://" + url.split("://", 1)[1]


async def reset_postgres_schema(url: str) -> None:
    await db.connect(url)
    try:
        await connection().execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await db.disconnect()


async def truncate_all() -> None:
    if is_postgres():
        await connection().execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    else:
        await connection().execute_script(
            "".join(f"DELETE FROM {t};" for t in TABLES) + "DELETE FROM sqlite_sequence;"
        )
