"""The shape of a JSON document: each field's pointer (an array's items as `*`) and JSON type. What a replay
compares (contracts.replay) and what the coverage report counts as present (contracts.coverage)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadvibe_contract.contract import Contract

COMBINATORS = ("allOf", "anyOf", "oneOf")
_NAMES: dict[type, str] = {str: "string", list: "array", dict: "object"}


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return _NAMES.get(type(value), "null")


def shape(node: Any) -> dict[str, str]:
    """Pointer -> type; a field seen with several types keeps the first non-null one."""
    found: dict[str, str] = {}

    def visit(value: Any, where: str) -> None:
        if found.get(where, "null") == "null":
            found[where] = json_type(value)
        if isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{where}/{key}")
        elif isinstance(value, list):
            for item in value:
                visit(item, f"{where}/*")

    visit(node, "")
    return found


def documented(contract: Contract, content: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """Of a response's content (its first media type, the one the mock serves): the pointer of every
    property its schema documents, and of every free-form map (an object without properties, such as
    `metadata` or `engagement_scores`), whose keys are data, not fields."""
    fields: set[str] = set()
    maps: set[str] = set()

    def walk(schema: Any, pointer: str, depth: int) -> None:
        schema = contract.resolve(schema)
        if not isinstance(schema, Mapping) or depth > 12:
            return
        for keyword in COMBINATORS:
            for part in schema.get(keyword, []):
                walk(part, pointer, depth + 1)
        for name, sub in schema.get("properties", {}).items():
            fields.add(f"{pointer}/{name}")
            walk(sub, f"{pointer}/{name}", depth + 1)
        if "items" in schema:
            walk(schema["items"], f"{pointer}/*", depth + 1)
        if schema.get("additionalProperties") not in (None, False) and "properties" not in schema:
            maps.add(pointer)

    media: Mapping[str, Any] = next(iter(content.values()), {}) if content else {}
    if "schema" in media:
        walk(media["schema"], "", 0)
    return fields, maps - {pointer for pointer in maps if any(f.startswith(f"{pointer}/") for f in fields)}


def within(pointer: str, maps: set[str]) -> bool:
    """Whether `pointer` is a key (or below a key) of one of the free-form `maps`."""
    return any(pointer.startswith(f"{prefix}/") for prefix in maps)
