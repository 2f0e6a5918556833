"""The gate's own reading of RFC 3339 timestamps, independent of the mock's parser.

Servers send them; requests carry them. The standard library parses the text once a strict RFC 3339
shape is confirmed, so a bug in the mock's parser cannot hide from the gate.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:(?P<second>\d{2})(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


def parse_timestamp(text: str) -> datetime:
    """An aware UTC datetime; ValueError for anything that is not RFC 3339 (a leap second reads as :59)."""
    match = _RFC3339.match(text)
    if not match:
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    if match["second"] == "60":
        text = text[: match.start("second")] + "59" + text[match.end("second") :]
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction[1]) > 6:  # Python keeps microseconds: drop finer digits
        text = text[: fraction.start(1) + 6] + text[fraction.end(1) :]
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"out of range once moved to UTC: {text!r}") from exc


def format_timestamp(moment: datetime) -> str:
    """A timestamp for a request: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
