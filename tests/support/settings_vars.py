"""The environment variables Herald reads: every `env.get("NAME", …)` of Settings.from_env
(herald/settings.py, read from its source so a new setting is found without a list to keep),
plus the few read outside Settings. The deployment files and the README are checked
against this set."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Read directly from os.environ (not a Setting): prometheus-client's multiprocess directory.
OUTSIDE_SETTINGS = frozenset({"PROMETHEUS_MULTIPROC_DIR"})


def setting_names() -> frozenset[str]:
    tree = ast.parse((ROOT / "herald" / "settings.py").read_text(encoding="utf-8"))
    names = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "env"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
    assert "DATABASE_URL" in names and "SMTP_PASSWORD" in names  # the parse found them
    return frozenset(names) | OUTSIDE_SETTINGS
