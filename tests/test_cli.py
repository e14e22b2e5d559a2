"""The `herald` console script, run as a user would: real processes, real uvicorn."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import free_port, herald


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "API_ADMIN_TOKEN", "REDIS_URL", "PROBE_URL")
    }
    return {
        **base,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite://{tmp_path / 'data' / 'h.sqlite3'}",
    }


def test_invalid_setting_stops_with_one_line(env: dict[str, str]) -> None:
    result = herald("migrate", env={**env, "PORT": "nope"})
    assert result.returncode == 2
    assert result.stderr.strip() == "herald: invalid setting PORT: expected an integer"


def test_migrate_and_token_create(env: dict[str, str]) -> None:
    assert herald("migrate", env=env).returncode == 0
    result = herald("token", "create", "--role", "viewer", env=env)
    assert result.returncode == 0
    assert re.fullmatch(r"hrld_[\w-]{40,}\n", result.stdout)


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "herald.cli", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield url, proc
    proc.terminate()
    proc.wait(timeout=15)
    assert proc.stderr is not None
    proc.stderr.close()


def test_serve_prints_first_run_token_once(
    server: tuple[str, subprocess.Popen[str]], env: dict[str, str]
) -> None:
    url, proc = server
    token_file = Path(env["DATA_DIR"]) / "admin-token"
    token = token_file.read_text().strip()
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{url}/graphql",
        headers=headers,
        json={
            "query": 'mutation { createClient(input: {phone: "79160000001", timezone: "UTC"}) '
            "{ operatorCode } }"
        },
    ).json()
    assert created["data"] == {"createClient": {"operatorCode": "916"}}
    denied = httpx.post(f"{url}/graphql", json={"query": "{ stats { messages } }"}).json()
    assert denied["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    proc.terminate()
    assert proc.wait(timeout=15) in (0, -15)  # uvicorn re-raises SIGTERM after a clean stop
    assert proc.stderr is not None
    output = proc.stderr.read()
    assert output.count(token) == 1


def test_unreachable_database_is_one_line(env: dict[str, str]) -> None:
    result = herald("migrate", env={**env, "DATABASE_URL": "postgres://u:secret@127.0.0.1:9/x"})
    assert result.returncode == 2
    assert result.stderr.startswith("herald: cannot connect to DATABASE_URL (")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
