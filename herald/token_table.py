"""What `herald token list` and `herald token revoke` print: never a secret (none is stored)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from models.token import ApiToken

COLUMNS = ("ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED")


def _when(value: datetime | None, empty: str) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else empty


def _printable(text: str) -> str:
    """A name as one line (names are checked on creation, but rows may predate the check)."""
    return "".join(c if c.isprintable() else "?" for c in text) or "-"


def token_table(rows: Sequence[ApiToken]) -> str:
    """Aligned columns, times in UTC; `never` for a token not used yet, `-` while active."""
    lines = [COLUMNS] + [
        (
            str(row.id),
            _printable(row.name),
            row.role.value,
            _when(row.created_at, "-"),
            _when(row.last_used_at, "never"),
            _when(row.revoked_at, "-"),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def revoked_line(row: ApiToken) -> str:
    return f"token {row.id} ({_printable(row.name)}) revoked at {_when(row.revoked_at, '-')}"
