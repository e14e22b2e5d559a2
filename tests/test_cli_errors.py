"""Start-up and command-line mistakes, run as a user would (real `herald` processes): each is
one line on stderr naming the cause, exit code 2, no traceback, and nothing done before it
(no directory, no migration, no Redis)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import herald

DATABASE_URL_FORMS = (
    "herald: invalid setting DATABASE_URL: "
    "expected sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB"
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """As tests/test_cli.py's: SQLite under a DATA_DIR that does not exist yet."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "API_ADMIN_TOKEN", "REDIS_URL", "PROBE_URL", "PORT", "HOST")
    }
    data = tmp_path / "data"
    return {**base, "DATA_DIR": str(data), "DATABASE_URL": f"sqlite://{data / 'h.sqlite3'}"}


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a refusal prints (asserting it is one line, exit code 2)."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def listening_url(log: str) -> str:
    """The URL `herald serve --port 0` listens on, once it has said so ("" until then)."""
    found = re.findall(r"(http://127\.0\.0\.1:\d+)", log)
    return next((url for url in found if not url.endswith(":0")), "")


def listing(directory: Path) -> list[str]:
    """What is in the directory, but for the files that a running Herald's processes keep
    adding and removing: metric files under prometheus/<its pid>/, SQLite's -wal and -shm
    files while a worker has the database open (a second Herald must leave the rest alone)."""
    return sorted(
        str(path)
        for path in (p.relative_to(directory) for p in directory.rglob("*"))
        if (path.parts[0] != "prometheus" or len(path.parts) < 3)
        and not path.name.endswith(("-wal", "-shm"))
    )


@pytest.mark.parametrize(
    "args,line",
    [
        (
            ["--port", "70000"],
            "herald: invalid option --port: expected a value between 0 and 65535",
        ),
        (["--port", "http"], "herald: invalid option --port: expected an integer"),
        (
            ["--host", "192.0.2.1"],  # TEST-NET-1: no interface of this machine has it
            "herald: cannot listen on 192.0.2.1:8000: Cannot assign requested address "
            "(choose another with --port/PORT or --host/HOST)",
        ),
    ],
)
def test_bad_serve_flag_is_one_line_before_any_side_effect(
    env: dict[str, str],
    args: list[str],
    line: str,
) -> None:
    assert refused(herald("serve", *args, env=env)) == line
    assert not Path(env["DATA_DIR"]).exists()


def test_help_shows_each_flags_default_and_variable(env: dict[str, str]) -> None:
    result = herald("serve", "--help", env=env)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    assert "--host HOST address to listen on (default: 127.0.0.1; variable HOST)" in text
    assert "(default: 8000; variable PORT)" in text
    for flag in ("--no-migrate", "--no-worker", "--probe-sim"):
        assert re.search(rf"{flag} [^(]*\(default: [^)]*; no variable\)", text), flag
    assert "see README, Settings" in text


def test_port_in_use_is_one_line_before_any_side_effect(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused(herald("serve", "--port", str(port), env=env))
    assert line == (
        f"herald: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(choose another with --port/PORT or --host/HOST)"
    )
    assert not Path(env["DATA_DIR"]).exists()  # no migration ran, no Redis started


@pytest.fixture
def first_serve(
    env: dict[str, str],
    tmp_path: Path,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real `herald serve` with its private Redis in DATA_DIR, on a free port, up."""
    log = tmp_path / "first.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "serve", "--port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 30
        url = ""
        while not url:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            url = listening_url(log.read_text())
            time.sleep(0.05)
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text()


def test_second_serve_on_one_data_dir_says_so_in_one_line(
    first_serve: tuple[subprocess.Popen[bytes], str],
    env: dict[str, str],
) -> None:
    proc, url = first_serve
    data_dir = Path(env["DATA_DIR"])
    before = listing(data_dir)
    assert "redis.sock" in before
    line = refused(herald("serve", "--port", "0", env=env))
    assert line == (
        f"herald: another Herald is already running on DATA_DIR {data_dir} (pid {proc.pid}): "
        "stop it, or set another DATA_DIR, or a shared REDIS_URL"
    )
    assert listing(data_dir) == before
    assert httpx.get(f"{url}/health").status_code == 200  # the first one is untouched


def test_serve_with_unreachable_redis_starts_with_one_warning(
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        redis_url = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    log = tmp_path / "serve.log"
    env = {**env, "REDIS_URL": redis_url, "LOG_LEVEL": "INFO", "API_ADMIN_TOKEN": "adm1n"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "serve", "--no-worker", "--port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 30
        while not listening_url(log.read_text()):  # said once it listens, after start-up
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        created = httpx.post(
            f"{listening_url(log.read_text())}/graphql",
            headers={"Authorization": "Bearer adm1n"},
            json={
                "query": 'mutation { createClient(input: {phone: "79160000001", timezone: "UTC"})'
                " { id } }"
            },
        ).json()
        assert "errors" not in created, created  # the API answers without Redis
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    text = log.read_text()
    assert code in (0, -signal.SIGTERM), text
    assert "Traceback" not in text
    problems = [line for line in text.splitlines() if " INFO " not in line]
    assert len(problems) == 1, text
    assert "WARNING herald: Redis (REDIS_URL) does not answer: the API runs without it" in text


def test_sqlite_directory_outside_data_dir_must_exist(
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    line = refused(herald("migrate", env={**env, "DATABASE_URL": f"sqlite://{missing}/x.db"}))
    assert line == (
        f"herald: invalid setting DATABASE_URL: directory {missing} does not exist "
        f"(Herald creates only DATA_DIR {env['DATA_DIR']} and directories under it)"
    )
    assert not (tmp_path / "nonexistent").exists()
    inside = Path(env["DATA_DIR"]) / "sub" / "dir"  # DATA_DIR and below: created as before
    result = herald("migrate", env={**env, "DATABASE_URL": f"sqlite://{inside}/x.db"})
    assert result.returncode == 0, result.stderr
    assert (inside / "x.db").is_file()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://herald:s3cret@db.example/herald",
        "postgres://herald:s3cret@db.example:port/herald",
        "postgres://herald:s3cret@db.example/herald?min_size=many",
        "sqlite://",
        "herald.sqlite3",
    ],
)
def test_bad_database_url_shows_the_forms_never_the_password(
    env: dict[str, str],
    url: str,
) -> None:
    result = herald("migrate", env={**env, "DATABASE_URL": url})
    assert refused(result) == DATABASE_URL_FORMS
    assert "s3cret" not in result.stderr + result.stdout
    assert not Path(env["DATA_DIR"]).exists()
