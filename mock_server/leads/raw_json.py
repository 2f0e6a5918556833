"""JSON a client sent, kept as compact text and written into answers without being parsed again.

Why: an ingested event's metadata must come back as sent (up to the documented 100 KB), but parsed it can
take twenty times its size (100 KB of empty arrays: 2.3 MB of Python objects). Kept as bytes it costs its
length, and orjson splices it into an answer as it is (`orjson.Fragment`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson


class RawJson(bytes):
    """Compact JSON text, valid by construction (made only by `compact_json`)."""


def compact_json(value: Any) -> RawJson:
    """`value` as compact JSON; integers beyond 64 bits (which orjson refuses) through the standard library."""
    try:
        return RawJson(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return RawJson(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def json_object(members: Mapping[str, RawJson]) -> RawJson:
    """The object of these members, as compact JSON: a lead's kept metadata written once per change, so that
    an answer splices one value per lead rather than one per key (orjson calls back into Python for each)."""
    return RawJson(b"{" + b",".join(orjson.dumps(key) + b":" + value for key, value in members.items()) + b"}")


def _as_fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, RawJson):
        return orjson.Fragment(bytes(value))  # a Fragment takes exactly bytes, not a subclass
    raise TypeError(f"{type(value).__name__} is not JSON")


def _as_parsed(value: Any) -> Any:
    if isinstance(value, RawJson):
        return json.loads(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(body: Any) -> bytes:
    """An answer's body as JSON: orjson (several times faster on lead lists), the standard library for
    integers beyond 64 bits; RawJson values written as they are."""
    try:
        return orjson.dumps(body, default=_as_fragment)
    except orjson.JSONEncodeError:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=_as_parsed).encode()


def parsed(body: Any) -> Any:
    """The body as a client will read it (RawJson parsed), for checking it against the spec; the standard
    library's parser, which keeps integers of any size (orjson takes them as doubles, then refuses)."""
    return json.loads(dumps(body))
