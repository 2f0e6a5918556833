"""Small rules for what api-smart-diff was measured to judge wrongly or not at all (tests/test_compat.py).

Each rule is the smallest that fixes a measured gap; everything else keeps the differ's verdict.

1. `type_change`: a changed `type` in a response was "non-breaking" even from integer to string. A
   response that may now carry a type it could not before breaks its readers; a request that no longer
   accepts a type breaks its senders (integer counts as a number).
2. `security_changes`: a document-level `security` change was "unclassified", and per-operation changes
   were judged by the shape of the list. The rule compares each operation's effective requirements: a
   client that met one alternative before must still meet one after, else it is breaking.
3. `security_scheme_change`: a scheme changing from bearer to an API key was "non-breaking". Changing or
   removing a scheme is breaking; its description or bearerFormat is annotation-only.
4. `judged_elsewhere`: a change under `components` (other than security schemes) is judged where it is
   used (the differ resolves every `$ref` and reports each use); its own verdict for the component is
   dropped. Security diffs of the differ are replaced by rule 2.
5. `unclassified`: the differ's "unclassified" is annotation-only under descriptions, examples and
   `x-decisions`, and breaking anywhere else: the gate fails closed on what nobody judged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from spec_compat.change import ANNOTATION, BREAKING, NON_BREAKING, Change, Path
from spec_compat.differ import ToolDiff

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ANNOTATION_KEYS = frozenset({"description", "summary", "title", "example", "examples", "x-decisions", "externalDocs"})
_SCHEME_ANNOTATIONS = frozenset({"description", "bearerFormat"})


_PAST = {"add": "added", "remove": "removed", "replace": "replaced", "rename": "renamed"}


def past(action: str) -> str:
    return _PAST.get(action, action)


def _side(path: Path) -> str | None:
    """'response' or 'request', from where in an operation a schema change sits."""
    if "responses" in path:
        return "response"
    if "requestBody" in path or "parameters" in path:
        return "request"
    return None


def _types(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    return {t for t in value if isinstance(t, str)} if isinstance(value, list) else set()


def _within(inner: set[str], outer: set[str]) -> bool:
    """Every type of `inner` is allowed by `outer` (an integer is a number)."""
    return all(t in outer or (t == "integer" and "number" in outer) for t in inner)


def type_change(diff: ToolDiff) -> Change | None:
    """Rule 1, for a diff of a schema's `type` keyword (not of a property named "type")."""
    path = diff.path
    index = len(path) - 1 if path and path[-1] == "type" else len(path) - 2
    if index < 0 or path[index] != "type" or (index > 0 and path[index - 1] == "properties"):
        return None
    side = _side(path)
    if side is None:
        return None
    if index == len(path) - 1 and diff.action == "replace":
        before, after = _types(diff.before), _types(diff.after)
        widened, narrowed = not _within(after, before), not _within(before, after)
    elif index == len(path) - 2 and diff.action in ("add", "remove"):
        widened, narrowed = diff.action == "add", diff.action == "remove"
    else:
        return None
    shown = f"type {_show(diff.before)} → {_show(diff.after)}"
    if side == "response" and widened:
        return Change(BREAKING, path, f"{shown}: a response may now carry a type its readers do not expect", _RULE1)
    if side == "request" and narrowed:
        return Change(BREAKING, path, f"{shown}: a request may no longer send a type it could before", _RULE1)
    return Change(NON_BREAKING, path, f"{shown}: {'narrowed' if side == 'response' else 'widened'} in a {side}", _RULE1)


_RULE1 = "rule: type change"
_RULE2 = "rule: effective security"
_RULE3 = "rule: security scheme"
_RULE5 = "rule: unclassified"


def _show(value: Any) -> str:
    return "∅" if value is None else str(value) if isinstance(value, str) else "[" + ", ".join(map(str, value)) + "]"


def _alternatives(requirements: Any) -> list[frozenset[str]]:
    """The ways to authenticate: each a set of schemes to present together; none listed means open."""
    if not requirements:
        return [frozenset()]
    return [frozenset(requirement) for requirement in requirements if isinstance(requirement, Mapping)]


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, list[frozenset[str]]]]:
    default = document.get("security")
    for path, item in (document.get("paths") or {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method) if isinstance(item, Mapping) else None
            if isinstance(operation, Mapping):
                yield path, method, _alternatives(operation.get("security", default))


def security_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Rule 2: per operation in both versions, whether every client that could authenticate still can."""
    old = {(path, method): alternatives for path, method, alternatives in _operations(before)}
    changes = []
    for path, method, now in _operations(after):
        was = old.get((path, method))
        if was is None or set(was) == set(now):
            continue
        where: Path = ("paths", path, method, "security")
        stranded = [alt for alt in was if not any(new <= alt for new in now)]
        shown = f"{_show_security(was)} → {_show_security(now)}"
        if stranded:
            reason = f"security tightened ({shown}): a client presenting {_show_alt(stranded[0])} is refused"
            changes.append(Change(BREAKING, where, reason, _RULE2))
        else:
            changes.append(Change(NON_BREAKING, where, f"security loosened ({shown})", _RULE2))
    return changes


def _show_alt(alternative: frozenset[str]) -> str:
    return " and ".join(sorted(alternative)) or "no credentials"


def _show_security(alternatives: list[frozenset[str]]) -> str:
    return " or ".join(f"({_show_alt(alt)})" if len(alt) > 1 else _show_alt(alt) for alt in alternatives)


def security_scheme_change(diff: ToolDiff) -> Change:
    """Rule 3, for a diff under components.securitySchemes."""
    rest = diff.path[3:]
    name = diff.path[2] if len(diff.path) > 2 else "?"
    if not rest:
        if diff.action == "add":
            return Change(NON_BREAKING, diff.path, f"security scheme '{name}' added", _RULE3)
        return Change(
            BREAKING, diff.path, f"security scheme '{name}' {past(diff.action)}: its clients are refused", _RULE3
        )
    key = str(rest[0])
    if key in _SCHEME_ANNOTATIONS or key.startswith("x-"):
        return Change(ANNOTATION, diff.path, f"security scheme '{name}': {key} {past(diff.action)}", _RULE3)
    shown = f"{_show(diff.before)} → {_show(diff.after)}"
    return Change(
        BREAKING, diff.path, f"security scheme '{name}': {key} {shown}: its clients' credentials change", _RULE3
    )


def judged_elsewhere(path: Path) -> bool:
    """Rule 4 (and the differ's security diffs, replaced by rule 2): diffs whose own verdict is dropped."""
    if not path:
        return False
    if path[0] == "security" or (path[0] == "paths" and len(path) > 3 and path[3] == "security"):
        return True
    return path[0] == "components" and (len(path) < 2 or path[1] != "securitySchemes")


def unclassified(diff: ToolDiff) -> Change:
    """Rule 5."""
    key = next((str(part) for part in diff.path if str(part) in ANNOTATION_KEYS), None)
    if key is not None:
        return Change(ANNOTATION, diff.path, f"{key} {past(diff.action)}", _RULE5)
    reason = f"{past(diff.action)} {diff.path[-1] if diff.path else 'the document'}: the differ could not classify it; "
    return Change(BREAKING, diff.path, reason + "review it, then acknowledge it if intended", _RULE5)
