"""The rule every stored string obeys: no control characters.

PostgreSQL cannot store NUL in text at all (SQLite can), so without this one database fails
where the other succeeds. Other control characters (C0, DEL, C1: Unicode category Cc) are
never meaningful in a tag or a filter value and only hide text from whoever reads it later;
a mailing's text may keep tab and line breaks (an SMS can have several lines)."""

from __future__ import annotations

import re

from models.errors import InvalidInput

LINE_BREAKS_AND_TAB = "\t\n\r"
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def reject_controls(value: str, field: str, *, allow: str = "") -> str:
    """`value` unchanged, or InvalidInput on `field` naming the first control character."""
    for match in _CONTROLS.finditer(value):
        if match.group() not in allow:
            code = f"U+{ord(match.group()):04X}"
            raise InvalidInput(
                f"{field} must not contain control characters ({code} at {match.start()})",
                field=field,
            )
    return value


def fold(text: str) -> str:
    """`text` case-folded, as stored beside a mailing's text for the text search and applied
    to the search string: Unicode-aware on every database (SQLite's LIKE, lower() and upper()
    fold ASCII only), and `str.casefold` also matches "STRASSE" with "straße"."""
    return text.casefold()
