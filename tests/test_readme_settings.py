"""The README's "## Settings" table names every variable Herald reads (tests/support/
settings_vars.py finds them in herald/settings.py), and nothing it does not read."""

from __future__ import annotations

import re

from tests.support.settings_vars import ROOT, setting_names


def table_names(readme: str) -> set[str]:
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    listed = table_names((ROOT / "README.md").read_text(encoding="utf-8"))
    known = setting_names()
    assert known - listed == set(), "add these to README.md, ## Settings"
    assert listed - known == set(), "README.md lists variables Herald does not read"


def test_the_check_can_fail() -> None:
    readme = "\n## Settings\n\n| variable | default | meaning |\n|---|---|---|\n"
    readme += "| `PORT` | 1 | x |\n"
    assert table_names(readme) == {"PORT"}
    assert setting_names() - table_names(readme)
