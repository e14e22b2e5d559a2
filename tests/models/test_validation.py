"""The input rules of models/ as tables: what each validator accepts (and returns) and what it
rejects, with the field it names. Issue 9: ASCII digits only, no control characters, zones
that are places, instants between 2000 and 2100."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from models.client import (
    validate_operator_code,
    validate_phone,
    validate_tag,
    validate_timezone,
)
from models.errors import InvalidInput
from models.mailing import validate_aware, validate_filter, validate_text
from models.text import LINE_BREAKS_AND_TAB, reject_controls

ARABIC, FULLWIDTH = 0x0660, 0xFF10


def digits(ascii_digits: str, zero: int) -> str:
    return "".join(chr(zero + int(d)) for d in ascii_digits)


PHONES = [
    ("79161112233", "79161112233"),
    (" 79161112233\n", "79161112233"),  # surrounding ASCII whitespace is trimmed
    ("7" + digits("9161112233", ARABIC), None),
    (digits("79161112233", FULLWIDTH), None),
    ("\u200779161112233", None),  # a figure space is not trimmed: only ASCII whitespace is
    ("+79161112233", None),  # no normalisation: one spelling per number
    ("89161112233", None),
    ("7 916 111 22 33", None),
    ("7916111223", None),
    ("791611122334", None),
    ("79161112233\u0000", None),
]


@pytest.mark.parametrize("raw,expected", PHONES)
def test_validate_phone(raw: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput) as caught:
            validate_phone(raw)
        assert caught.value.field == "phone"
    else:
        assert validate_phone(raw) == expected


OPERATOR_CODES = [
    ("916", True),
    ("000", True),
    (digits("916", ARABIC), False),
    (digits("916", FULLWIDTH), False),
    ("91", False),
    ("9160", False),
    ("916\n", False),
    (" 916", False),
]


@pytest.mark.parametrize("code,ok", OPERATOR_CODES)
def test_validate_operator_code(code: str, ok: bool) -> None:
    if ok:
        assert validate_operator_code(code) == code
    else:
        with pytest.raises(InvalidInput) as caught:
            validate_operator_code(code)
        assert caught.value.field == "operatorCode"


TAGS = [
    ("vip", "vip"),
    ("  vip  ", "vip"),
    ("", None),
    ("   ", None),
    (None, None),
    ("é" * 64, "é" * 64),
    ("x" * 65, "tag"),
    ("v\u0000ip", "tag"),
    ("vip\n", "tag"),  # a tag is one line
    ("v\tip", "tag"),
    ("vip\u007f", "tag"),
    ("\u0085vip", "tag"),  # NEL, a C1 control that str.strip() used to remove silently
    ("\u001fvip", "tag"),  # so was U+001F
]


@pytest.mark.parametrize("raw,expected", TAGS)
def test_validate_tag(raw: str | None, expected: str | None) -> None:
    if expected == "tag":
        with pytest.raises(InvalidInput) as caught:
            validate_tag(raw)
        assert caught.value.field == "tag"
    else:
        assert validate_tag(raw) == expected


ZONES = [
    ("Europe/Moscow", True),
    ("UTC", True),
    ("Etc/GMT+5", True),
    ("America/Argentina/Buenos_Aires", True),
    ("America/Port-au-Prince", True),
    ("localtime", False),  # the server's zone, whatever it is
    ("Factory", False),
    ("posixrules", False),
    ("posix/Europe/Moscow", False),
    ("right/UTC", False),
    ("../../etc/localtime", False),
    ("/usr/share/zoneinfo/UTC", False),
    ("Europe/../UTC", False),
    ("Europe/Moscow\u0000", False),
    ("europe/moscow", False),
    ("zone.tab", False),
    ("", False),
]


@pytest.mark.parametrize("zone,ok", ZONES)
def test_validate_timezone(zone: str, ok: bool) -> None:
    if ok:
        assert validate_timezone(zone) == zone
    else:
        with pytest.raises(InvalidInput) as caught:
            validate_timezone(zone)
        assert caught.value.field == "timezone"


TEXTS = [
    ("Hello", True),
    ("Line one\r\nLine two\n\tindented", True),  # tab and line breaks are allowed in a text
    ("emoji \U0001f600 and кириллица", True),
    ("Hi\u0000there", False),
    ("bell\u0007", False),
    ("esc\u001b[31m", False),
    ("del\u007f", False),
    ("c1\u0090", False),
    ("vertical\u000btab", False),
    ("   ", False),
    ("x" * 1001, False),
]


@pytest.mark.parametrize("text,ok", TEXTS)
def test_validate_text(text: str, ok: bool) -> None:
    if ok:
        assert validate_text(text) == text
    else:
        with pytest.raises(InvalidInput) as caught:
            validate_text(text)
        assert caught.value.field == "text"


def test_reject_controls_names_the_character() -> None:
    with pytest.raises(InvalidInput) as caught:
        reject_controls("ab\u0000", "text", allow=LINE_BREAKS_AND_TAB)
    assert "U+0000 at 2" in caught.value.message
    assert reject_controls("a\tb\nc\r", "text", allow=LINE_BREAKS_AND_TAB) == "a\tb\nc\r"


def test_filter_values_name_the_filter_field() -> None:
    for codes, tags, field in [
        ([digits("916", ARABIC)], None, "filter.operatorCodes"),
        (None, ["ok", "b\u0000d"], "filter.tags"),
        (None, ["b\nd"], "filter.tags"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            validate_filter(codes, tags)
        assert caught.value.field == field
    assert validate_filter(["916"], [" vip "]).tags == ("vip",)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


INSTANTS = [
    (at("2000-01-01T00:00:00Z"), at("2000-01-01T00:00:00Z")),
    (at("2000-01-01T03:00:00+03:00"), at("2000-01-01T00:00:00Z")),
    (at("2100-01-01T00:00:00Z"), at("2100-01-01T00:00:00Z")),
    (at("2099-12-31T19:00:00-05:00"), at("2100-01-01T00:00:00Z")),
    (at("2030-06-01T12:00:00+05:30"), at("2030-06-01T06:30:00Z")),
    (at("1999-12-31T23:59:59Z"), None),
    (at("2000-01-01T02:59:59+03:00"), None),
    (at("2100-01-01T00:00:00.000001Z"), None),
    (at("0001-01-01T00:00:00+03:00"), None),  # year 0 in UTC: overflowed converting
    (at("9999-12-31T23:59:59-05:00"), None),  # year 10000 in UTC: overflowed converting
    (datetime.min.replace(tzinfo=timezone(timedelta(hours=23, minutes=59))), None),
    (datetime.max.replace(tzinfo=timezone(-timedelta(hours=23, minutes=59))), None),
    (datetime.min.replace(tzinfo=UTC), None),
    (datetime.max.replace(tzinfo=UTC), None),
]


@pytest.mark.parametrize("value,expected", INSTANTS)
def test_validate_aware_bounds_instants(value: datetime, expected: datetime | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput) as caught:
            validate_aware(value, "endAt")
        assert caught.value.field == "endAt"
    else:
        result = validate_aware(value, "endAt")
        assert result == expected
        assert result.utcoffset() == timedelta(0)


def test_validate_aware_still_rejects_naive() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_aware(datetime(2030, 1, 1), "startAt")
    assert caught.value.field == "startAt"
