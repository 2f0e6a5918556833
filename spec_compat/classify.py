"""The differ's diffs, normalised: breaking, non-breaking or annotation-only, each with a JSON path and a
one-line reason. Its verdicts are kept except where a rule of `spec_compat.rules` judges instead.

api-smart-diff's own descriptions are sometimes placeholders ("[Removed] annotation (6) in ..."), so a
reason is built from the change itself where the description says nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spec_compat import rules
from spec_compat.change import ANNOTATION, BREAKING, KINDS, NON_BREAKING, Change
from spec_compat.differ import ToolDiff

_TOOL_KINDS = {"breaking": BREAKING, "non-breaking": NON_BREAKING, "annotation": ANNOTATION, "deprecated": NON_BREAKING}


def classify(before: Mapping[str, Any], after: Mapping[str, Any], diffs: Sequence[ToolDiff]) -> list[Change]:
    """Every change between two specs, sorted by kind (breaking first), then JSON path."""
    changes: dict[tuple[Any, ...], Change] = {}
    for diff in diffs:
        change = _judge(diff, before, after)
        if change is not None:
            changes.setdefault((change.path, change.kind), change)
    for change in rules.security_changes(before, after):
        changes.setdefault((change.path, change.kind), change)
    return sorted(changes.values(), key=lambda c: (KINDS.index(c.kind), c.where))


def _judge(diff: ToolDiff, before: Mapping[str, Any], after: Mapping[str, Any]) -> Change | None:
    if rules.judged_elsewhere(diff.path):
        return None
    if diff.path[:2] == ("components", "securitySchemes"):
        return rules.security_scheme_change(diff)
    typed = rules.type_change(diff)
    if typed is not None:
        return typed
    if "enum" in diff.path and diff.action in ("add", "remove"):
        # Every enum value change needs an acknowledgment (issue #12's list): a value added to a response
        # or removed from a request breaks a client; one removed from a response or added to a request
        # changes what every deployment must serve or accept.
        where = "a response" if _in_response(diff.path) else "a request"
        return Change(BREAKING, diff.path, f"an enum value {rules.past(diff.action)} in {where}: acknowledge it")
    if diff.type == "unclassified" or diff.type not in _TOOL_KINDS:
        return rules.unclassified(diff)
    reason = _reason(diff)
    if diff.type == "deprecated":
        reason = "deprecated: " + reason
    renamed = _renamed_to(diff, before, after)
    if renamed:
        reason += f" (its operationId now lives at {renamed}: a renamed path)"
    return Change(_TOOL_KINDS[diff.type], diff.path, reason)


def _reason(diff: ToolDiff) -> str:
    text = " ".join(diff.description.split())
    if text and "annotation (" not in text and not text.startswith("in "):
        return text
    key = diff.path[-1] if diff.path else "document"
    what = f"'{key}'" if not isinstance(key, int) else f"item {key}"
    values = {"add": f" = {_short(diff.after)}", "remove": f" (was {_short(diff.before)})"}.get(
        diff.action, f": {_short(diff.before)} → {_short(diff.after)}"
    )
    suffix = text if text.startswith("in ") else ""
    return f"{rules.past(diff.action)} {what}{values} {suffix}".strip()


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, dict) else "{…}"
    return text if len(text) <= 60 else text[:59] + "…"


def _operation_id(document: Mapping[str, Any], path: Any, method: Any) -> str | None:
    operation = (document.get("paths") or {}).get(path, {}).get(method)
    return operation.get("operationId") if isinstance(operation, Mapping) else None


def _renamed_to(diff: ToolDiff, before: Mapping[str, Any], after: Mapping[str, Any]) -> str | None:
    """For a removed operation whose operationId reappears elsewhere: where, as `METHOD /path`."""
    if diff.action != "remove" or len(diff.path) != 3 or diff.path[0] != "paths":
        return None
    operation_id = _operation_id(before, diff.path[1], diff.path[2])
    if operation_id is None:
        return None
    for path, item in (after.get("paths") or {}).items():
        for method in rules.HTTP_METHODS:
            if isinstance(item, Mapping) and _operation_id(after, path, method) == operation_id:
                return f"{method.upper()} {path}"
    return None


def _in_response(path: Sequence[Any]) -> bool:
    """Whether a JSON path lies in a response (or a schema only responses use, judged by its name)."""
    return "responses" in path
