"""Mailings: the ORM model, input validation and the editing rules per state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.client import validate_operator_code, validate_tag
from models.errors import Conflict, InvalidInput
from models.states import MailingState as MailingState  # re-exported
from models.text import LINE_BREAKS_AND_TAB, fold, reject_controls
from models.transitions import MAILING_ENDED

MAX_TEXT = 1000
MAX_FILTER_ITEMS = 100
# Every instant a mailing stores lies here: wider than any real campaign, and far enough from
# datetime's year 1 and 9999 that converting to UTC can never overflow.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Mailing(Model):
    id = fields.IntField(primary_key=True)
    text = fields.TextField()
    # The text case-folded (models/search.py:fold), which the text search matches: SQLite's
    # LIKE and lower() fold ASCII only, so "Привет" would not find "привет" there.
    text_folded = fields.TextField(db_default="")
    start_at = fields.DatetimeField()
    end_at = fields.DatetimeField()
    operator_codes: Any = fields.JSONField(default=list)
    tags: Any = fields.JSONField(default=list)
    window_start = fields.IntField(null=True)  # seconds after local midnight
    window_end = fields.IntField(null=True)
    state = fields.CharEnumField(MailingState, max_length=10, default=MailingState.SCHEDULED)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "mailing"
        # One per keyset order of `mailings` (models/search.py), with or without a state
        # filter; (state, start_at) also serves the sweep's due-mailing lookup.
        indexes = (
            ("created_at", "id"),
            ("start_at", "id"),
            ("state", "created_at", "id"),
            ("state", "start_at", "id"),
        )

    @property
    def window(self) -> Window | None:
        if self.window_start is None or self.window_end is None:
            return None
        return Window(self.window_start, self.window_end)


@dataclass(frozen=True)
class Window:
    """A local wall-clock window [start, end) in seconds after midnight; end < start wraps."""

    start: int
    end: int

    @classmethod
    def from_times(cls, start: time, end: time) -> Window:
        window = cls(_seconds(start), _seconds(end))
        if window.start == window.end:
            raise InvalidInput("window start and end must differ", field="window")
        return window


def _seconds(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


class Unset:
    """Marks a patch field the caller did not send."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = Unset()


@dataclass(frozen=True)
class AudienceFilter:
    operator_codes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class MailingData:
    text: str
    start_at: datetime
    end_at: datetime
    filter: AudienceFilter
    window: Window | None


@dataclass(frozen=True)
class MailingPatch:
    text: Any = UNSET
    start_at: Any = UNSET
    end_at: Any = UNSET
    filter: Any = UNSET
    window: Any = UNSET  # a Window, None to clear it, or UNSET

    def changed(self) -> set[str]:
        return {name for name in _PATCH_FIELDS if getattr(self, name) is not UNSET}


_PATCH_FIELDS = ("text", "start_at", "end_at", "filter", "window")
_API_NAMES = {
    "text": "text",
    "start_at": "startAt",
    "end_at": "endAt",
    "filter": "filter",
    "window": "window",
}
EDITABLE_WHILE_ACTIVE = frozenset({"end_at", "window"})


def validate_text(text: str) -> str:
    """Non-empty, at most MAX_TEXT characters; tab and line breaks are the only control
    characters allowed (PostgreSQL cannot store NUL; the rest have no place in an SMS)."""
    reject_controls(text, "text", allow=LINE_BREAKS_AND_TAB)
    if not text.strip():
        raise InvalidInput("text must not be empty", field="text")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"text must be at most {MAX_TEXT} characters", field="text")
    return text


def validate_aware(value: datetime, field: str) -> datetime:
    """Aware, between EARLIEST and LATEST, and converted to UTC: SQLite compares stored times
    as text, so every stored time must share one offset (a -05:00 endAt would otherwise sort
    wrongly). The bounds are checked first, by comparing instants, because the conversion
    itself overflows near year 1 or 9999 (0001-01-01T00:00+03:00 is in year 0 in UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must carry a UTC offset (e.g. +03:00 or Z)", field=field)
    if not EARLIEST <= value <= LATEST:
        raise InvalidInput(
            f"{field} must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)",
            field=field,
        )
    return value.astimezone(UTC)


def validate_filter(
    operator_codes: list[str] | None,
    tags: list[str] | None,
    fields: tuple[str, str] = ("filter.operatorCodes", "filter.tags"),
) -> AudienceFilter:
    """An audience filter (or the same lists searching clients); errors name `fields`."""
    codes, tag_list = operator_codes or [], tags or []
    codes_field, tags_field = fields
    for name, items in ((codes_field, codes), (tags_field, tag_list)):
        if len(items) > MAX_FILTER_ITEMS:
            raise InvalidInput(f"at most {MAX_FILTER_ITEMS} values", field=name)
    for code in codes:
        try:
            validate_operator_code(code)
        except InvalidInput:
            raise InvalidInput("operator codes are three ASCII digits", field=codes_field) from None
    clean_tags = []
    for tag in tag_list:
        try:
            clean = validate_tag(tag)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=tags_field) from None
        if clean is None:
            raise InvalidInput("tags must not be empty", field=tags_field)
        clean_tags.append(clean)
    return AudienceFilter(tuple(dict.fromkeys(codes)), tuple(dict.fromkeys(clean_tags)))


def validate_period(
    start_at: datetime, end_at: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """Both aware and in UTC; the end after the start and still ahead of `now`."""
    start_at, end_at = validate_aware(start_at, "startAt"), validate_aware(end_at, "endAt")
    if end_at <= start_at:
        raise InvalidInput("endAt must be after startAt", field="endAt")
    if end_at <= now:
        raise InvalidInput("endAt is already in the past", field="endAt")
    return start_at, end_at


def validate_mailing(
    text: str,
    start_at: datetime,
    end_at: datetime,
    filter: AudienceFilter,
    window: Window | None,
    now: datetime,
) -> MailingData:
    """A new mailing: its end must be after its start and still ahead of `now`."""
    start_at, end_at = validate_period(start_at, end_at, now)
    return MailingData(validate_text(text), start_at, end_at, filter, window)


def clone_period(
    source: Mailing, start_at: datetime | None, end_at: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The period of a copy of `source` (cloneMailing), before validation. An omitted start
    keeps the source's lead time (from its creation to its start, never negative): a mailing
    created a day before it started is copied to start a day from `now`, one that started at
    once starts at once. An omitted end keeps the source's duration from the copy's start."""
    lead = max(source.start_at - source.created_at, timedelta(0))
    start = now + lead if start_at is None else start_at
    end = start + (source.end_at - source.start_at) if end_at is None else end_at
    return start, end


def check_patch(mailing: Mailing, patch: MailingPatch, now: datetime) -> None:
    """Editing rules: everything while SCHEDULED; only endAt and window once started
    (the audience is already snapshotted and messages may be in flight); nothing once ended."""
    changed = patch.changed()
    if mailing.state in MAILING_ENDED:
        raise Conflict(f"mailing is {mailing.state.value} and can no longer be edited")
    frozen = changed - EDITABLE_WHILE_ACTIVE
    if mailing.state != MailingState.SCHEDULED and frozen:
        name = _API_NAMES[sorted(frozen)[0]]
        raise Conflict(
            f"mailing is {mailing.state.value}: only endAt and window can change", field=name
        )
    if patch.text is not UNSET:
        validate_text(patch.text)
    start = mailing.start_at if patch.start_at is UNSET else patch.start_at
    end = mailing.end_at if patch.end_at is UNSET else patch.end_at
    if {"start_at", "end_at"} & changed:
        validate_period(start, end, now)


def apply_patch(mailing: Mailing, patch: MailingPatch) -> list[str]:
    """Copy a checked patch onto the row; returns the column names to save."""
    columns: list[str] = []
    for name in patch.changed():
        value = getattr(patch, name)
        if name == "filter":
            mailing.operator_codes = list(value.operator_codes)
            mailing.tags = list(value.tags)
            columns += ["operator_codes", "tags"]
        elif name == "window":
            mailing.window_start = value.start if value else None
            mailing.window_end = value.end if value else None
            columns += ["window_start", "window_end"]
        elif name == "text":
            mailing.text, mailing.text_folded = value, fold(value)
            columns += ["text", "text_folded"]
        else:
            setattr(mailing, name, value)
            columns.append(name)
    return columns
