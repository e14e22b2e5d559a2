"""The `herald` console script, run once as a user would (a real process)."""

from __future__ import annotations

import socket
import subprocess
import sys


def herald(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ok(*args: str, env: dict[str, str]) -> str:
    """`herald ARGS` that must succeed: its standard output."""
    result = herald(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(*args: str, env: dict[str, str]) -> str:
    """The one line a refusal prints (exit code 2, nothing on stdout, no traceback)."""
    result = herald(*args, env=env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]
