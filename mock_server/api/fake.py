"""A value that fits a JSON Schema, for `Prefer: dynamic=true` and responses the spec gives no example.

Why a small generator and not hypothesis-jsonschema: the mock's run-time dependencies stay small
(Hypothesis is a test dependency), generation must take microseconds, not a Hypothesis engine, and the
spec's own schemas are simple (objects, arrays, enums, bounded numbers, formatted strings). Values from a
schema's `examples` are preferred, so that a dynamic lead still reads like a lead. The caller checks the
result against the compiled validator and falls back to the documented example if it does not fit.
"""

from __future__ import annotations

import math
import random
import string
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_DEPTH = 8
SEEDED_NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Seeded(random.Random):
    """The dice of a repeatable body (`Prefer: seed=42`): dates count back from a fixed instant, not from now."""

    now = SEEDED_NOW


Resolve = Callable[[Any], Any]


def fake(schema: Any, resolve: Resolve, rng: random.Random, depth: int = 0) -> Any:
    schema = resolve(schema)
    if not isinstance(schema, Mapping):
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return rng.choice(list(schema["enum"]))
    if schema.get("examples") and rng.random() < 0.7:
        return rng.choice(list(schema["examples"]))
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for raw_part in schema["allOf"]:
            part = resolve(raw_part)
            merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged["required"] = [*merged.get("required", []), *part.get("required", [])]
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return fake(
            {**merged, **rest, "properties": {**merged["properties"], **rest.get("properties", {})}},
            resolve,
            rng,
            depth,
        )
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [resolve(o) for o in schema[key]]
            options = [o for o in options if o.get("type") != "null"] or options
            return fake(rng.choice(options), resolve, rng, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        kind = rng.choice(kinds)
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return _by_type(kind, schema, resolve, rng, depth)


def _by_type(kind: str, schema: Mapping[str, Any], resolve: Resolve, rng: random.Random, depth: int) -> Any:
    if kind == "object":
        result: dict[str, Any] = {}
        required = set(schema.get("required", ()))
        for name, sub in schema.get("properties", {}).items():
            if depth < MAX_DEPTH and (name in required or rng.random() < 0.6):
                result[name] = fake(sub, resolve, rng, depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and not schema.get("properties") and depth < MAX_DEPTH:
            for _ in range(rng.randint(0, 3)):
                result[_word(rng)] = fake(extra, resolve, rng, depth + 1)
        return result
    if kind == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", low + 3), low + 3)
        count = rng.randint(low, high) if depth < MAX_DEPTH else low
        return [fake(schema.get("items", {}), resolve, rng, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(kind, schema, rng)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


def _number(kind: str, schema: Mapping[str, Any], rng: random.Random) -> int | float:
    """Within the bounds, inclusive or exclusive, fractional for a `number`."""
    low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0)))
    high = float(schema.get("maximum", schema.get("exclusiveMaximum", low + 100)))
    if kind == "integer":
        first = math.floor(low) + 1 if "minimum" not in schema and "exclusiveMinimum" in schema else math.ceil(low)
        last = math.ceil(high) - 1 if "maximum" not in schema and "exclusiveMaximum" in schema else math.floor(high)
        return rng.randint(first, max(first, last))
    return low + (high - low) * rng.uniform(0.01, 0.99) if high > low else low


def _word(rng: random.Random, length: int = 8) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=length))


def _string(schema: Mapping[str, Any], rng: random.Random) -> str:
    form = schema.get("format")
    now = rng.now if isinstance(rng, Seeded) else datetime.now(UTC)
    if form == "date-time":
        moment = now - timedelta(minutes=rng.randint(0, 60 * 24 * 90))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if form == "date":
        return (now - timedelta(days=rng.randint(0, 90))).strftime("%Y-%m-%d")
    if form == "email":
        return f"{_word(rng)}@example.com"
    if form in ("uri", "url"):
        return f"https://example.com/{_word(rng)}"
    if form == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    cap = schema.get("maxLength")
    low = schema.get("minLength", 1 if cap is None else min(1, cap))  # `maxLength: 0` is the empty string
    high = min(cap if cap is not None else max(low, 12), max(low, 12))
    return "".join(rng.choices(string.ascii_letters + string.digits + "_", k=rng.randint(low, high)))
