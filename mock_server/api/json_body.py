"""Reading a JSON request body so that no body, however hostile, costs more than its size.

Why: the standard library parses `{"a":"\\ud800"}` into a string Python can hold but never encode (every
later read of the lead would fail), recurses once per nesting level (about 985 levels is a
RecursionError, 256 already break jsonschema-rs), and the schema validator's cost grows with the number
of errors times the size of the value (issue #10). So the body is parsed strictly, then walked once,
iteratively: it is refused when nested deeper than the spec allows or when a string cannot be encoded,
naming the place; and its size in values tells the validator how many errors it can afford to list.
A body of more values than the mock reads (`max_json_values`) is refused during the walk, before any
schema check, so that no body costs more than that walk (349,000 empty arrays cost 0.75 s before).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any


class BodyRefused(ValueError):
    """The body cannot be accepted as it is; `pointer` names the place (JSON Pointer, "" = whole body)."""

    def __init__(self, pointer: str, detail: str) -> None:
        super().__init__(detail)
        self.pointer = pointer
        self.detail = detail


class TooManyValues(BodyRefused):
    """The body holds more values than the mock reads: a 413, not a 400 (it may well be valid)."""


@dataclass(frozen=True)
class BodyShape:
    values: int  # every object, array, key and scalar counted once
    depth: int


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, no numbers out of range; deep nesting is a ValueError."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None


def read_json(raw: bytes, max_depth: int, max_values: int) -> tuple[Any, BodyShape]:
    """A body parsed and inspected; BodyRefused (pointer "" when it is not JSON) when it cannot be had."""
    try:
        parsed = parse_json(raw)
    except ValueError as exc:  # UnicodeDecodeError too
        raise BodyRefused("", f"the body is not valid JSON: {exc}") from None
    return parsed, inspect(parsed, max_depth, max_values)


def encodable(text: str) -> bool:
    """Whether a string is valid Unicode (no lone surrogates), i.e. can be written out as UTF-8."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_LONE_SURROGATE = "is not valid Unicode (it holds a lone surrogate)"
Crumb = tuple[Any, str | int] | None  # (parent crumb, key): a pointer built only when one is needed


def _pointer(crumb: Crumb) -> str:
    tokens: list[str] = []
    while crumb is not None:
        crumb, key = crumb
        tokens.append(str(key).encode("utf-8", "backslashreplace").decode().replace("~", "~0").replace("/", "~1"))
    return "".join("/" + token for token in reversed(tokens))


def inspect(value: Any, max_depth: int, max_values: int) -> BodyShape:
    """Walk a parsed body once, without recursion; refuse a nesting over `max_depth`, a bad string, or
    more than `max_values` values (as soon as they are counted)."""
    stack: list[tuple[Any, Crumb, int]] = [(value, None, 1)]
    values = 0
    deepest = 0
    while stack:
        node, crumb, depth = stack.pop()
        values += 1
        if values > max_values:
            raise TooManyValues("", f"the body holds over {max_values} JSON values")
        if isinstance(node, str):
            if not encodable(node):
                raise BodyRefused(_pointer(crumb), f"the string {_LONE_SURROGATE}")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            raise BodyRefused(_pointer(crumb), f"the body is nested deeper than {max_depth} levels")
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            for key, item in node.items():
                values += 1
                if not encodable(key):
                    raise BodyRefused(_pointer((crumb, key)), f"the key {_LONE_SURROGATE}")
                stack.append((item, (crumb, key), depth + 1))
        else:
            if values + len(node) > max_values:
                raise TooManyValues("", f"the body holds over {max_values} JSON values")
            stack.extend((item, (crumb, index), depth + 1) for index, item in enumerate(node))
    return BodyShape(values, deepest)
