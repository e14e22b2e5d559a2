"""Database configuration, start-up and migrations (tortoise-orm's built-in migrations)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import ConfigurationError
from tortoise.migrations.api import migrate as migrate_api

from herald.settings import SettingsError

MODEL_MODULES = [
    "models.client",
    "models.mailing",
    "models.message",
    "models.token",
    "models.stats",
    "models.idempotency",
    "models.health",
    "models.testsend",
    "models.attempts",
    "models.report",
]


# SQLite pragmas set on every connection tortoise opens. A writer waits this long for another
# process's write to commit before SQLite answers "database is locked"; write transactions take
# the lock up front (models/sql.py write_transaction), so waiting is all they ever need to do.
SQLITE_BUSY_TIMEOUT_MS = 5_000
# WAL (tortoise's default too, stated here since the process tree relies on it): readers in
# the API never wait for a worker's write.
SQLITE_PRAGMAS = {
    "journal_mode": "WAL",
    "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
    "synchronous": "NORMAL",
}


def connection_config(database_url: str) -> str | dict[str, Any]:
    if not database_url.startswith("sqlite"):
        return database_url
    try:
        config = expand_db_url(database_url)
    except (ConfigurationError, ValueError):
        # TORTOISE_ORM below is built at import: a bad URL must not break `import herald.db`
        # (Settings names it in one line); tortoise refuses the raw URL if it gets there.
        return database_url
    config["credentials"] = {**SQLITE_PRAGMAS, **config["credentials"]}  # the URL's win
    return config


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": connection_config(database_url)},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def sqlite_dir(database_url: str) -> Path | None:
    """The directory of a SQLite database file (None for PostgreSQL and `:memory:`)."""
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path).parent
    return None


def check_sqlite_dir(database_url: str, data_dir: Path) -> None:
    """Herald creates DATA_DIR and directories under it; any other directory of a SQLite
    file must already exist: a typo in DATABASE_URL must not leave a new tree behind."""
    directory = sqlite_dir(database_url)
    if directory is None or directory.is_dir():
        return
    inside = directory.resolve()
    root = data_dir.resolve()
    if inside != root and root not in inside.parents:
        raise SettingsError(
            "DATABASE_URL",
            f"directory {directory} does not exist (Herald creates only DATA_DIR {data_dir} "
            "and directories under it)",
        )


def _ensure_sqlite_dir(database_url: str) -> None:
    if (directory := sqlite_dir(database_url)) is not None:
        directory.mkdir(parents=True, exist_ok=True)


async def migrate(database_url: str) -> None:
    """Apply every pending migration; safe to run on each start."""
    _ensure_sqlite_dir(database_url)
    try:
        await migrate_api(config=tortoise_config(database_url))
    finally:
        await disconnect()


async def connect(database_url: str) -> None:
    _ensure_sqlite_dir(database_url)
    # tortoise 1.x keeps its state in a contextvar; uvicorn runs requests in tasks that do
    # not inherit the lifespan's context, so the global fallback must be on.
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def disconnect() -> None:
    """Close connections and forget the models' bindings, so a later connect may target
    another database (or dialect) in the same process: tortoise caches each model's INSERT
    SQL by connection *name*, so it must be dropped too or a SQLite statement reaches
    PostgreSQL."""
    await Tortoise.close_connections()
    await Tortoise._reset_apps()
    EXECUTOR_CACHE.clear()


# Used by `tortoise makemigrations` (see [tool.tortoise] in pyproject.toml).
TORTOISE_ORM = tortoise_config(
    os.environ.get("DATABASE_URL", "sqlite://data/makemigrations.sqlite3")
)
