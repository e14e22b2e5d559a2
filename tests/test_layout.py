"""Layering that import-linter cannot see: function-level (lazy) imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_app_loads_the_probe_simulator_only_when_asked_to_run_it() -> None:
    code = (
        "import sys, herald.app, herald.cli\n"
        "print(sorted(m for m in sys.modules if m.endswith('probesim')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
