"""`herald token create|list|revoke` as real processes, on SQLite and PostgreSQL: the list is a
table that never shows a secret, a revoked token is refused by the API at once, and a bad id,
an unknown one or the last admin token is one line on stderr with exit code 2."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.api import GQL, error_of
from tests.support.cli import ok, refused

STATS = "{ stats { mailings } }"


def cli_env(tmp_path: Path, database_url: str = "", **extra: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "API_ADMIN_TOKEN", "REDIS_URL", "PROBE_URL")
    }
    url = database_url or f"sqlite://{tmp_path / 'data' / 'h.sqlite3'}"
    return {**base, "DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": url, **extra}


def table(output: str) -> list[list[str]]:
    """The list's rows split on runs of two or more spaces (names hold single spaces)."""
    return [re.split(r"\s{2,}", line) for line in output.strip().splitlines()]


async def test_list_and_revoke(database: str, tmp_path: Path, gql: GQL) -> None:
    env = cli_env(tmp_path, database)
    admin = ok("token", "create", "--role", "admin", "--name", "ops team", env=env).strip()
    viewer = ok("token", "create", "--role", "viewer", "--name", "dash", env=env).strip()
    assert (await gql(STATS, token=viewer))["data"] == {"stats": {"mailings": 0}}
    listed = ok("token", "list", env=env)
    assert admin not in listed and viewer not in listed
    rows = table(listed)
    assert rows[0] == ["ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"]
    assert [r[:3] for r in rows[1:]] == [["1", "ops team", "admin"], ["2", "dash", "viewer"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", r[3]) for r in rows[1:])
    assert [r[5] for r in rows[1:]] == ["-", "-"]
    revoked = ok("token", "revoke", "2", env=env)
    assert re.fullmatch(r"token 2 \(dash\) revoked at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n", revoked)
    assert error_of(await gql(STATS, token=viewer))["code"] == "UNAUTHENTICATED"
    rows = table(ok("token", "list", env=env))
    assert rows[1][5] == "-" and rows[2][5] == revoked.split(" at ")[1].strip()
    assert refused("token", "revoke", "99", env=env) == "herald: token 99 not found"
    last = refused("token", "revoke", "1", env=env)
    assert last.startswith("herald: token 1 is the last admin token and API_ADMIN_TOKEN is not set")
    assert ok("token", "revoke", "1", env={**env, "API_ADMIN_TOKEN": "x" * 20}).startswith(
        "token 1 (ops team) revoked at "
    )


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.5", "\u0663", "2147483648", "", " 1"])
def test_revoke_refuses_a_bad_id_in_one_line(tmp_path: Path, raw: str) -> None:
    line = refused("token", "revoke", raw, env=cli_env(tmp_path))
    assert line == (
        f"herald: invalid token id {raw!r}: expected ASCII digits between 1 and 2147483647"
    )
    assert not (tmp_path / "data").exists()  # refused before touching the database


def test_create_refuses_a_bad_name_in_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    line = refused("token", "create", "--role", "admin", "--name", "a\nb", env=env)
    assert line == "herald: name must not contain control characters (U+000A at 1)"
    assert table(ok("token", "list", env=env)) == [
        ["ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"]
    ]
