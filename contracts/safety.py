"""Safety against a live deployment that holds shared data.

With writes allowed, the run writes only to leads it created itself through POST /ingest, under
recognisable aliases (`lvc-<run id>-<n>@contracts.invalid`), and deletes them at the end. Every
generated write request is rewritten before it is sent: every place the contract says holds a lead id
or an alias (path, query or body) gets one of ours. Values that are invalid anyway (negative test data)
are left alone: they cannot address real data. A write operation with a place the gate cannot rewrite
is refused, naming it: safety fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema_rs import Validator

from contracts.client import READ_METHODS, ReadOnlyViolation
from contracts.ownership import OwnedLeads
from leadvibe_contract.contract import Contract, path_pattern
from leadvibe_contract.places import EVERY_ITEM, IDENTIFYING, Place

# Undeclared methods the gate may send to a path that names no lead: they cannot change shared data.
PROBE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class WriteRefused(Exception):
    """A write the live gate cannot confine to the run's own leads: refused before it left."""


class LiveSafety:
    """Rewrites generated write requests so that they only ever touch this run's own leads.

    Where a request carries a lead id or an alias comes from the contract (`OperationSpec.places`),
    never from a list in this module: a new write operation is rewritten, or refused, without new code.
    """

    def __init__(self, spec: Contract, owned: OwnedLeads | None, *, read_only: bool) -> None:
        self._spec = spec
        self._owned = owned
        self._read_only = read_only
        self._by_route = {(op.method.upper(), op.path): op for op in spec.operations.values()}
        # What a path carries in itself, for Schemathesis' probes with a method the path does not declare.
        self._path_places: dict[str, tuple[Place, ...]] = {}
        for op in spec.operations.values():
            found = {p for p in op.places if p.location == "path" and p.identifies in IDENTIFYING}
            self._path_places[op.path] = tuple(sorted({*self._path_places.get(op.path, ()), *found}, key=str))
        self._validators: dict[str, Validator] = {}
        self.refused_writes: list[str] = []  # writes stopped at the last check: reported by the run
        # Concrete paths to templates; static segments first (`/lead/by-alias` is not `/lead/{leadID}`).
        templates = sorted({op.path for op in spec.operations.values()}, key=lambda p: (p.count("{"), p))
        self._patterns = [(template, path_pattern(template)) for template in templates]

    @property
    def refused(self) -> dict[str, str]:
        """Write operations the run will not send, with the reason (empty on a read-only run)."""
        return {
            op.operation_id: op.write.refusal
            for op in self._spec.operations.values()
            if op.write is not None and op.write.refusal is not None
        }

    def prepare(self, case: Any) -> None:
        """Call before sending a generated case (a Schemathesis `Case`)."""
        method = case.method.upper()
        if self._read_only and method not in READ_METHODS:
            raise ReadOnlyViolation(f"read-only run: refused to send {case.method} {case.path}")
        owned = self._owned
        if owned is None or method in READ_METHODS:
            return
        operation = self._by_route.get((method, case.path))
        if operation is None:
            self._prepare_probe(case, owned)
            return
        if operation.write is None or operation.write.refusal is not None:
            reason = operation.write.refusal if operation.write else "it is not a write"
            raise WriteRefused(f"refused to send {operation.operation_id} ({case.method} {case.path}): {reason}")
        for place in operation.write.places:
            if place.identifies in IDENTIFYING:
                self._rewrite(case, place, owned, _kind_beside(place, operation.write.places))

    def _prepare_probe(self, case: Any, owned: OwnedLeads) -> None:
        """A method the path does not declare (a probe for a 405): aimed at our own lead, or harmless."""
        places = self._path_places.get(case.path)
        if places is None:
            raise WriteRefused(f"refused to send {case.method} {case.path}: not a path of the spec")
        if not places and case.method.upper() not in PROBE_METHODS:
            raise WriteRefused(f"refused to send {case.method} {case.path}: the path names no lead of this run")
        for place in places:
            self._rewrite(case, place, owned, None)

    def _rewrite(self, case: Any, place: Place, owned: OwnedLeads, kind_field: str | None) -> None:
        if place.location == "path":
            case.path_parameters = self._in(case.path_parameters, (place.name,), place, owned, kind_field)
        elif place.location == "query":
            case.query = self._in(case.query, (place.name,), place, owned, kind_field)
        elif place.location == "body":
            case.body = self._in(case.body, place.pointer, place, owned, kind_field)

    def _in(self, node: Any, pointer: tuple[str, ...], place: Place, owned: OwnedLeads, kind_field: str | None) -> Any:
        """`node` with the value at `pointer` made ours (`*` goes through every item of a list)."""
        if not pointer:
            return self._own(node, place, owned, None)
        head, rest = pointer[0], pointer[1:]
        if head == EVERY_ITEM:
            return [self._in(item, rest, place, owned, kind_field) for item in node] if isinstance(node, list) else node
        if not isinstance(node, dict) or head not in node:
            return node
        if rest:
            return {**node, head: self._in(node[head], rest, place, owned, kind_field)}
        kind = node.get(kind_field) if kind_field else None
        return {**node, head: self._own(node[head], place, owned, kind if isinstance(kind, str) else None)}

    def _own(self, value: Any, place: Place, owned: OwnedLeads, kind: str | None) -> Any:
        """A value that could name real data becomes one of ours; an invalid one cannot, and stays."""
        if not self._validator(place.schema_ref).is_valid(value):
            return value
        if place.identifies == "lead":
            return owned.current()
        return owned.marker(kind or "email")[1]

    def _validator(self, ref: str) -> Validator:
        if ref not in self._validators:
            self._validators[ref] = self._spec.validator(ref.removeprefix("#"))
        return self._validators[ref]

    # -- the last check before a write leaves, whatever built it -----------------------------------

    def check_case(self, case: Any) -> None:
        """Refuse a generated write that still names a lead or alias the run has not proven its own."""
        self.check(case.method, case.path, case.path_parameters or {}, case.query or {}, case.body)

    def check_sent(self, method: str, path: str, query: Mapping[str, Any], body: Any) -> None:
        """The same for a request of the semantic contracts, given its concrete path."""
        for template, pattern in self._patterns:
            match = pattern.match(path)
            if match:
                self.check(method, template, match.groupdict(), query, body)
                return
        if method.upper() not in READ_METHODS and self._owned is not None:
            self._refuse(f"{method} {path}: not a path of the spec")

    def check(self, method: str, template: str, path: Mapping[str, Any], query: Mapping[str, Any], body: Any) -> None:
        method = method.upper()
        owned = self._owned
        if owned is None or method in READ_METHODS:
            return
        for place, value in self._identified(method, template, path, query, body):
            if place.identifies == "lead" and not owned.owns(value):
                self._refuse(f"{method} {template}: lead {value!r} is not proven this run's own")
            if place.identifies == "lead-alias" and not owned.is_own_marker(value):
                self._refuse(f"{method} {template}: alias {value!r} is not one of this run's markers")

    def _identified(
        self, method: str, template: str, path: Mapping[str, Any], query: Mapping[str, Any], body: Any
    ) -> Iterator[tuple[Place, Any]]:
        """Each lead id or alias a write carries (only values that could address real data)."""
        operation = self._by_route.get((method, template))
        if operation is not None and operation.write is not None:
            places: tuple[Place, ...] = operation.write.places
        else:
            places = self._path_places.get(template, ())
        for place in places:
            if place.identifies not in IDENTIFYING:
                continue
            source = {"path": path, "query": query}.get(place.location)
            found = _values(source, (place.name,)) if source is not None else _values(body, place.pointer)
            for value in found:
                if self._validator(place.schema_ref).is_valid(value):
                    yield place, value

    def _refuse(self, reason: str) -> None:
        self.refused_writes.append(reason)
        raise WriteRefused(f"refused to send {reason}")

    def observe(self, case: Any, status: int) -> None:
        """After every definitive answer to a case (the transport calls it): a lead this run deleted must not
        be used again; a marker an accepted write carried may become a lead (asynchronously) that clean-up
        must wait for, and one only ever refused made none (the ledger may forget it)."""
        owned = self._owned
        if owned is None:
            return
        method = case.method.upper()
        if method == "DELETE" and status == 200:
            for value in (case.path_parameters or {}).values():
                owned.mark_deleted(str(value))
        if method in READ_METHODS:
            return
        found = self._identified(method, case.path, case.path_parameters or {}, case.query or {}, case.body)
        for place, value in found:
            if place.identifies != "lead-alias" or not owned.is_own_marker(value):
                continue
            if 200 <= status < 300:
                owned.accepted(value)
            elif 400 <= status < 500:  # a definitive refusal: no lead can come of it (unless another write did)
                owned.rejected(value)


def _kind_beside(place: Place, places: tuple[Place, ...]) -> str | None:
    """The field beside an alias value that holds its kind (so the marker is recorded with it)."""
    if place.identifies != "lead-alias" or not place.pointer:
        return None
    for other in places:
        beside = other.location == place.location and other.pointer[:-1] == place.pointer[:-1]
        if other.identifies == "lead-alias-kind" and beside:
            return other.pointer[-1]
    return None


def _values(node: Any, pointer: tuple[str, ...]) -> list[Any]:
    """Every value at a place's path in a parameter map or body (`*` every item of a list)."""
    if not pointer:
        return [node]
    head, rest = pointer[0], pointer[1:]
    if head == EVERY_ITEM:
        return [value for item in node for value in _values(item, rest)] if isinstance(node, list) else []
    if isinstance(node, Mapping) and head in node:
        return _values(node[head], rest)
    return []
