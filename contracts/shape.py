"""The shape of a JSON document: each field's pointer (an array's items as `*`) and JSON type. What a replay
compares (contracts.replay) and what the coverage report counts as present (contracts.coverage)."""

from __future__ import annotations

from typing import Any

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
