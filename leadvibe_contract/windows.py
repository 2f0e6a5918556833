"""What the spec's time-window enum values mean: `7d`, `last_30d`, `today`, `yesterday`.

The spec lists the values (the enums of `last_active` and `range`); this module is the one reading of
their form, so a new value such as `last_180d` works everywhere without code, and a value of an unknown
form is refused when the spec loads rather than answered with a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

_LAST_DAYS = re.compile(r"^(?:last_)?(?P<days>[1-9]\d{0,3})d$")
_CALENDAR_DAYS = {"today": 0, "yesterday": 1}


class WindowError(ValueError):
    """An enum value that looks like a time window but has no known meaning."""


@dataclass(frozen=True)
class Window:
    """A half-open span of time [start, end) relative to a given moment (UTC)."""

    start: datetime
    end: datetime
    rolling: bool = False  # `Nd`: ends now, and slides with the clock; a calendar day does not

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def is_window(value: Any) -> bool:
    return isinstance(value, str) and (value in _CALENDAR_DAYS or bool(_LAST_DAYS.match(value)))


def window(value: str, now: datetime) -> Window:
    """The span a window value covers at `now`: `Nd` / `last_Nd` the last N times 24 hours (ending just
    after now), `today` / `yesterday` calendar days in UTC."""
    match = _LAST_DAYS.match(value)
    if match:
        return Window(now - timedelta(days=int(match["days"])), now + timedelta(microseconds=1), rolling=True)
    if value in _CALENDAR_DAYS:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = midnight - timedelta(days=_CALENDAR_DAYS[value])
        return Window(start, start + timedelta(days=1))
    raise WindowError(f"{value!r} is not a time window")


def check_windows(enum: Iterable[Any], where: str) -> None:
    """An enum whose values are windows must have only values this module can read."""
    values = [value for value in enum if isinstance(value, str)]
    known = [value for value in values if is_window(value)]
    if known and len(known) != len(values):
        unknown = sorted(set(values) - set(known))
        raise WindowError(f"{where}: enum values {unknown} are not time windows of a known form (Nd, last_Nd, today)")
