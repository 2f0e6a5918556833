"""Time in the mock: an injectable clock, RFC 3339 parsing and the spec's output format.

The spec's decision: responses carry UTC with a `Z` suffix. A time the server writes (from its clock)
always has exactly three fractional digits, so that such times sort as strings (`...27.999Z` before
`...28.000Z`); a time from the seed or a client keeps its own precision: whole seconds where it has no
fraction, otherwise milliseconds, or microseconds for an ingested timestamp that had them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

MIN_TIME = datetime.min.replace(tzinfo=UTC)
MAX_TIME = datetime.max.replace(tzinfo=UTC, microsecond=0)
_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})(?P<frac>\.\d+)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:\d{2})$"
)
_RELATIVE = re.compile(r"^now(?:-(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?)?$")


def utc_now() -> datetime:
    """The current time, truncated to milliseconds (the precision the mock writes)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_timestamp(moment: datetime, *, written: bool = False) -> str:
    """RFC 3339 in UTC; `written`: a time the server wrote, always with milliseconds."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.year < 1000:  # strftime does not zero-pad years on every platform
        text = f"{moment.year:04d}" + text[text.index("-") :]
    if written:
        return f"{text}.{moment.microsecond // 1000:03d}Z"
    if moment.microsecond == 0:
        return text + "Z"
    if moment.microsecond % 1000 == 0:
        return f"{text}.{moment.microsecond // 1000:03d}Z"
    return f"{text}.{moment.microsecond:06d}Z"


def parse_timestamp(text: str) -> datetime:
    """Parse any RFC 3339 date-time to an aware UTC datetime.

    A leap second (`:60`) is read as `:59`; values that fall outside what Python can represent once
    moved to UTC (year 0, or past year 9999) are clamped to the representable range.
    """
    match = _RFC3339.match(text)
    if not match:
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    seconds = min(int(match["s"]), 59)
    fraction = (match["frac"] or ".0")[1:7].ljust(6, "0")
    zone = match["tz"].upper()
    offset = timedelta(0) if zone == "Z" else _offset(zone)
    year = int(match["date"][:4])
    if year == 0:
        return MIN_TIME
    local = datetime.strptime(match["date"], "%Y-%m-%d").replace(
        hour=int(match["h"]), minute=int(match["m"]), second=seconds, microsecond=int(fraction), tzinfo=UTC
    )
    try:
        return local - offset
    except OverflowError:
        return MIN_TIME if offset > timedelta(0) else MAX_TIME


def _offset(zone: str) -> timedelta:
    sign = -1 if zone[0] == "-" else 1
    return sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))


def resolve_time(value: object, now: datetime) -> datetime:
    """A time in a seed file: RFC 3339, a YAML timestamp, or relative to start-up (`now-3d4h`, `now`)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    parsed = _seed_time(value)
    return now - parsed if isinstance(parsed, timedelta) else parsed


@functools.lru_cache(maxsize=1 << 18)
def _seed_time(value: str) -> timedelta | datetime:
    """An offset before now, or an absolute time (cached: large seeds repeat the same values)."""
    relative = _RELATIVE.match(value)
    if relative:
        return timedelta(days=int(relative["d"] or 0), hours=int(relative["h"] or 0), minutes=int(relative["m"] or 0))
    return parse_timestamp(value)


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)
