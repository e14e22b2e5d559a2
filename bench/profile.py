"""`make bench --profile DIR`: py-spy samples the worker process(es) during a delivery and the
top entries are printed (self time by function, and inclusive time by function).

py-spy reads the target's memory from outside (ptrace), so the worker runs unmodified; it needs
root or CAP_SYS_PTRACE (or `kernel.yama.ptrace_scope = 0`). `--nonblocking` keeps it from
pausing the worker to sample: the figures stay those of an unprofiled run."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed: pip install -e '.[dev]'")
    return found


@contextlib.contextmanager
def recording(pids: list[int], out_dir: Path | None, label: str) -> Iterator[list[Path]]:
    """py-spy record (raw, i.e. collapsed stacks) of each pid until the block ends."""
    if out_dir is None:
        yield []
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    procs, files = [], []
    for pid in pids:
        path = out_dir / f"{label}-{pid}.txt"
        args = [py_spy(), "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
        args += ["--nonblocking", "-o", str(path)]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        files.append(path)
    try:
        yield files
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _frames(stack: str) -> list[str]:
    """'fn (path/file.py:12);…' → ['fn (file.py)', …], the line numbers dropped so a function
    counts once however many of its lines were sampled."""
    frames = []
    for frame in stack.split(";"):
        name, _, where = frame.partition(" (")
        path = where.rsplit(":", 1)[0].rstrip(")")
        frames.append(f"{name} ({_short(path)})")
    return frames


def _short(path: str) -> str:
    for marker in ("site-packages/", "python3.11/", os.getcwd() + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


# Frames every sample of the main thread passes through: they say nothing about where it goes.
RUNNERS = (
    "<module>",
    "_run",
    "run (",
    "main (herald",
    "worker (herald",
    "Runner.run",
    "BaseEventLoop.run",
    "BaseEventLoop._run_once",
    "Handle._run",
    "Thread.",
)


def summarise(files: list[Path], top: int = 15) -> list[tuple[str, str, str]]:
    """Rows: the `top` functions by self samples, then by inclusive samples (% of all)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = _frames(stack)
            total += n
            own[frames[-1]] += n
            for name in set(frames):
                inclusive[name] += n
    if not total:
        return [("profile", "no samples", "is py-spy allowed to ptrace the worker?")]
    rows = [("profile: samples", f"{total:,}", ", ".join(p.name for p in files))]
    rows += [(f"self  {name}"[:110], f"{n / total:.1%}", "") for name, n in own.most_common(top)]
    rows += [
        (f"incl. {name}"[:110], f"{n / total:.1%}", "")
        for name, n in inclusive.most_common(top + 12)
        if not name.startswith(RUNNERS)
    ][:top]
    return rows
