"""Where an operation carries a lead id or a lead alias, derived from the spec.

A schema that names a lead says so with `x-identifies`: `lead` on LeadId, `lead-alias` on AliasValue,
`lead-alias-kind` on AliasKind (which qualifies an alias beside it). Every parameter or body field that
reaches such a schema through `$ref` is a place. The live gate rewrites every place of a write request
onto data the run owns, and refuses a write operation with a place it cannot rewrite: so a new
operation is safe without new safety code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

IDENTIFIES_KEY = "x-identifies"
# A write operation that changes only the caller's own session (e.g. its active OU), never shared data.
SHARED_STATE_KEY = "x-shared-state"
EVERY_ITEM = "*"
ANY_KEY = "**"  # a key chosen by the client (additionalProperties, patternProperties)

Identifies = Literal["lead", "lead-alias", "lead-alias-kind"]
IDENTIFYING = ("lead", "lead-alias")  # what names data; an alias kind only qualifies an alias
Location = Literal["path", "query", "header", "cookie", "body"]


@dataclass(frozen=True)
class Place:
    """One place of a request: a parameter, or a path into the body (`*` every item, `**` any key)."""

    identifies: Identifies
    location: Location
    name: str  # the parameter's name; "" for the body
    pointer: tuple[str, ...] = ()  # body only
    schema_ref: str = ""  # the identifying schema, for validating a value before rewriting it

    @property
    def label(self) -> str:
        if self.location == "body":
            return "body /" + "/".join(self.pointer)
        return f"{self.location} parameter '{self.name}'"

    @property
    def addressable(self) -> bool:
        """A fixed path: every value there can be found and rewritten (no key chosen by the client)."""
        return ANY_KEY not in self.pointer


Resolve = Callable[[Any], Any]


def _identifies(document: Mapping[str, Any], ref: str) -> Identifies | None:
    if not ref.startswith("#/components/schemas/"):
        return None
    target = document.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    value = target.get(IDENTIFIES_KEY) if isinstance(target, Mapping) else None
    return value if value in ("lead", "lead-alias", "lead-alias-kind") else None


def schema_places(
    document: Mapping[str, Any], resolve: Resolve, schema: Any, pointer: tuple[str, ...] = ()
) -> Iterator[tuple[Identifies, tuple[str, ...], str]]:
    """(what, path, schema ref) of every identifying `$ref` below a schema."""
    seen: set[int] = set()

    def walk(node: Any, at: tuple[str, ...]) -> Iterator[tuple[Identifies, tuple[str, ...], str]]:
        if not isinstance(node, Mapping) or (id(node), at) in seen_pairs:
            return
        seen_pairs.add((id(node), at))
        if "$ref" in node:
            what = _identifies(document, node["$ref"])
            if what is not None:
                yield what, at, node["$ref"]
                return
            target = resolve(node)
            if id(target) in seen:  # a recursive schema: each definition is walked once per branch
                return
            seen.add(id(target))
            yield from walk(target, at)
            seen.discard(id(target))
            return
        for keyword in ("allOf", "oneOf", "anyOf"):
            for part in node.get(keyword, []):
                yield from walk(part, at)
        for name, child in node.get("properties", {}).items():
            yield from walk(child, (*at, name))
        if isinstance(node.get("items"), Mapping):
            yield from walk(node["items"], (*at, EVERY_ITEM))
        for child in (node.get("additionalProperties"), *node.get("patternProperties", {}).values()):
            if isinstance(child, Mapping):
                yield from walk(child, (*at, ANY_KEY))

    seen_pairs: set[tuple[int, tuple[str, ...]]] = set()
    yield from walk(schema, pointer)


def operation_places(
    document: Mapping[str, Any],
    resolve: Resolve,
    parameters: Mapping[tuple[str, str], Mapping[str, Any]],
    body_schemas: list[Any],
) -> tuple[Place, ...]:
    """Every place of one operation: its parameters (by location and name) and its body schemas."""
    found: list[Place] = []
    for (location, name), parameter in parameters.items():
        for what, _, ref in schema_places(document, resolve, parameter.get("schema", {})):
            found.append(Place(what, location, name, (), ref))  # type: ignore[arg-type]
    for schema in body_schemas:
        for what, pointer, ref in schema_places(document, resolve, schema):
            found.append(Place(what, "body", "", pointer, ref))
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class WritePlan:
    """How the live gate can confine a write operation to the run's own leads, or why it cannot."""

    operation_id: str
    places: tuple[Place, ...]
    refusal: str | None  # None: every place can be rewritten

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def write_plan(
    operation_id: str, raw: Mapping[str, Any], places: tuple[Place, ...], path_parameters: list[str]
) -> WritePlan:
    """Account for every place of a write operation; anything unaccounted for refuses the operation."""
    if raw.get(SHARED_STATE_KEY) is False:
        return WritePlan(operation_id, (), None)
    naming = [place for place in places if place.identifies in IDENTIFYING]
    leads_in_path = {place.name for place in naming if place.location == "path" and place.identifies == "lead"}
    refusal = None
    for name in path_parameters:
        if name not in leads_in_path:
            refusal = f"path parameter '{name}' addresses something other than a lead"
    for place in naming:
        if place.location in ("header", "cookie"):
            refusal = f"{place.label} holds a {place.identifies} id the gate cannot rewrite"
        elif not place.addressable:
            refusal = f"{place.label} holds a {place.identifies} under a key the client chooses"
    if not naming:
        refusal = "it names no lead id or alias, so it cannot be confined to the run's own leads"
    return WritePlan(operation_id, places, refusal)
