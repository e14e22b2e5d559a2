"""Layering that import-linter cannot see: function-level (lazy) imports, and the tests' own."""

from __future__ import annotations

import ast
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


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_tests_import_helpers_from_tests_support_only() -> None:
    """A test module imports no other test module nor a conftest: what tests share lives in
    tests/support/ (helpers) or a conftest.py (fixtures, which pytest injects)."""
    offenders = {
        f"{path.relative_to(REPO)}: {module}"
        for path in sorted((REPO / "tests").rglob("*.py"))
        for module in _imported_modules(path)
        if module.startswith("tests.") and not module.startswith("tests.support")
    }
    assert offenders == set()
