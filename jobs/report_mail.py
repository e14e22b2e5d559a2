"""The daily report as an e-mail: a plain-text part that reads well in a terminal or a text-only
client, and an HTML alternative with simple tables and inline styles (mail clients drop style
sheets). Mailing texts are the operators' own words: escaped in the HTML, shortened to one line."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from html import escape

from models.report_stats import DailyStats, MailingLine
from models.states import MessageStatus

SNIPPET = 60  # characters of a mailing's text shown as its name
# Mailings listed one by one (the busiest of the day); the totals always cover every one. A
# day of 1,000 mailings made a 1.5 MB e-mail with every one listed.
MAX_LISTED = 50
STATUSES = tuple(MessageStatus)


def subject(stats: DailyStats) -> str:
    t = stats.totals
    return (
        f"Herald daily report {stats.day.isoformat()}: {len(stats.mailings)} mailings,"
        f" {t.sent_in_day:,} sent, {t.failed_in_day:,} failed"
    )


def message_id(stats: DailyStats, domain: str) -> str:
    """One Message-ID per day: a report sent again after a crash is recognisably the same."""
    return f"<herald-report-{stats.day.isoformat()}@{domain}>"


def build_message(stats: DailyStats, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(stats)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(stats.made_at)
    message["Message-ID"] = message_id(stats, sender.rpartition("@")[2])
    message.set_content(render_text(stats))
    message.add_alternative(render_html(stats), subtype="html")
    return message


def listed(stats: DailyStats) -> tuple[list[MailingLine], int]:
    """The mailings shown one by one, in id order, and how many more there were: the
    MAX_LISTED with the most messages sent or failed that day (then the most messages)."""
    busiest = sorted(
        stats.mailings,
        key=lambda m: (m.sent_in_day + m.failed_in_day, m.counts.total, -m.mailing_id),
        reverse=True,
    )[:MAX_LISTED]
    return sorted(busiest, key=lambda m: m.mailing_id), len(stats.mailings) - len(busiest)


def _more(hidden: int) -> str:
    return f"… and {hidden:,} more mailings (in the totals; each in the API's stats.perMailing)."


def _name(line: MailingLine) -> str:
    text = " ".join(line.text.split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def _rate(line: MailingLine) -> str:
    rate = line.delivery_rate
    return "n/a" if rate is None else f"{rate * 100:.1f} %"


def _text_block(line: MailingLine, title: str) -> list[str]:
    counts = ", ".join(f"{s.value} {line.counts.by_status[s]:,}" for s in STATUSES)
    out = [
        title,
        f"  messages {line.counts.total:,}: {counts}",
        f"  delivery rate {_rate(line)}",
        f"  that day: {line.sent_in_day:,} sent, {line.failed_in_day:,} failed,"
        f" {line.retried_in_day:,} attempts retried",
    ]
    if line.errors:
        out.append("  most common errors:")
        out.extend(f"    {n:>7,}  {error}" for error, n in line.errors)
    return out


def render_text(stats: DailyStats) -> str:
    lines = [
        f"Herald daily report for {stats.day.isoformat()} ({stats.zone})",
        f"Covers {stats.since.isoformat()} to {stats.until.isoformat()} (UTC);"
        f" counts by status as of {stats.made_at.isoformat(timespec='seconds')}.",
        "Delivery rate: SENT out of the messages whose outcome is final (SENT, FAILED, EXPIRED).",
        "",
    ]
    if not stats.mailings:
        lines.append("No mailing was active that day.")
        return "\n".join(lines) + "\n"
    lines += _text_block(stats.totals, f"TOTAL over {len(stats.mailings)} mailings")
    shown, hidden = listed(stats)
    for line in shown:
        title = f"Mailing {line.mailing_id} ({line.state.value}): {_name(line)}"
        lines += ["", *_text_block(line, title)]
    if hidden:
        lines += ["", _more(hidden)]
    return "\n".join(lines) + "\n"


CELL = "padding:4px 8px;border-bottom:1px solid #ddd;text-align:right"
HEAD = "padding:4px 8px;border-bottom:2px solid #999;text-align:right;background:#f4f4f4"
LEFT = "text-align:left"


def _row(line: MailingLine, name: str) -> str:
    counts = "".join(f'<td style="{CELL}">{line.counts.by_status[s]:,}</td>' for s in STATUSES)
    errors = "<br>".join(f"<b>{n:,}</b> {escape(error)}" for error, n in line.errors) or "—"
    return (
        f'<tr><td style="{CELL};{LEFT}">{name}</td>'
        f'<td style="{CELL}">{line.counts.total:,}</td>{counts}'
        f'<td style="{CELL}"><b>{_rate(line)}</b></td>'
        f'<td style="{CELL}">{line.sent_in_day:,}</td>'
        f'<td style="{CELL}">{line.failed_in_day:,}</td>'
        f'<td style="{CELL};{LEFT};font-size:12px">{errors}</td></tr>'
    )


def render_html(stats: DailyStats) -> str:
    title = f"Herald daily report for {stats.day.isoformat()} ({escape(stats.zone)})"
    intro = (
        f"<p>Counts by status as of {stats.made_at.isoformat(timespec='seconds')}; "
        "<i>sent</i> and <i>failed</i> are that day's. Delivery rate: SENT out of the "
        "messages whose outcome is final (SENT, FAILED, EXPIRED).</p>"
    )
    body = [f'<h2 style="margin:0 0 8px">{title}</h2>', intro]
    if not stats.mailings:
        body.append("<p>No mailing was active that day.</p>")
    else:
        heads = ["mailing", "messages", *(s.value for s in STATUSES), "delivery rate"]
        heads += ["sent that day", "failed that day", "most common errors"]
        left = {heads[0], heads[-1]}  # the names and the errors read left to right
        header = "".join(
            f'<th style="{HEAD}{";" + LEFT if h in left else ""}">{h}</th>' for h in heads
        )
        rows = [_row(stats.totals, f"<b>Total ({len(stats.mailings)} mailings)</b>")]
        shown, hidden = listed(stats)
        rows += [
            _row(m, f"#{m.mailing_id} {escape(_name(m))} <small>({m.state.value})</small>")
            for m in shown
        ]
        body.append(
            '<table style="border-collapse:collapse;font-size:14px">'
            f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
        if hidden:
            body.append(f"<p>{escape(_more(hidden))}</p>")
    return (
        '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;color:#222">'
        + "".join(body)
        + "</body></html>\n"
    )
