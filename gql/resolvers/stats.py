from __future__ import annotations

from gql.types.stats import MailingStats, OverallStats, status_counts
from models.stats import overall_counts


async def stats() -> OverallStats:
    total, per_mailing = await overall_counts()
    return OverallStats(
        mailings=len(per_mailing),
        messages=total.total,
        by_status=status_counts(total),
        per_mailing=[MailingStats.from_counts(item) for item in per_mailing],
    )
