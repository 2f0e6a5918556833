"""A whole number from text a client sent (a header, a query parameter, a JSON value), within a range.

Why not `int()` alone: it takes fullwidth and other Unicode digits, and raises on more than 4,300 digits
(Python's int-string limit), which would be a 500 where a 400 is due. The length is checked first.
"""

from __future__ import annotations


def whole_number(value: object, low: int, high: int) -> int | None:
    """The number, or None when `value` is not ASCII digits (or an int) within [low, high]."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if low <= value <= high else None
    text = str(value).strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit()):
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(high)):
        return None
    number = int(significant)
    return number if low <= number <= high else None
