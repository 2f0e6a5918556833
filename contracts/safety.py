"""Safety against a live deployment that holds shared data.

With writes allowed, the run writes only to leads it created itself through POST /ingest, under
recognisable aliases (`lvc-<run id>-<n>@contracts.invalid`), and deletes them at the end. Every
generated write request is rewritten before it is sent: every place the contract says holds a lead id
or an alias (path, query or body) gets one of ours. Values that are invalid anyway (negative test data)
are left alone: they cannot address real data. A write operation with a place the gate cannot rewrite
is refused, naming it: safety fails closed.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from jsonschema_rs import Validator

from contracts.client import READ_METHODS, ApiClient, ReadOnlyViolation
from contracts.verdict import expect
from leadvibe_contract.contract import Contract
from leadvibe_contract.places import EVERY_ITEM, IDENTIFYING, Place

PROBE_EVENT = "contract_probe"
# Undeclared methods the gate may send to a path that names no lead: they cannot change shared data.
PROBE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class OwnedLeads:
    """Leads this run created, and the marker aliases it ingested, so that all of them can be deleted."""

    def __init__(self, client: ApiClient, token: str, run_id: str, wait_timeout: float) -> None:
        self._client = client
        self._token = token
        self._run_id = run_id
        self._wait_timeout = wait_timeout
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._leads: list[str] = []
        self._deleted: set[str] = set()
        self._aliases: list[tuple[str, str]] = []
        self._alias_of: dict[str, tuple[str, str]] = {}
        self._current: str | None = None

    def marker(self, kind: str = "email") -> tuple[str, str]:
        """A fresh alias only this run uses; recorded for clean-up."""
        with self._lock:
            alias = (kind, f"lvc-{self._run_id}-{next(self._counter)}@contracts.invalid")
            self._aliases.append(alias)
            return alias

    def find(self, kind: str, value: str) -> str | None:
        """The lead of an alias, waiting (bounded) for an asynchronous ingest to land."""
        deadline = time.monotonic() + self._wait_timeout
        while True:
            response = self._client.request(
                "GET", "/lead/by-alias", token=self._token, params={"kind": kind, "value": value}
            )
            if response.status == 200:
                lead_id: str = response.json()["lead_id"]
                return lead_id
            if response.status != 404 or time.monotonic() > deadline:
                return None
            time.sleep(0.25)

    def create(self, event_type: str = PROBE_EVENT, metadata: dict[str, Any] | None = None) -> str:
        kind, value = self.marker()
        body = {
            "event_type": event_type,
            "aliases": [{"alias_kind": kind, "raw_value": value}],
            "metadata": metadata or {"source": "leadvibe-contracts"},
        }
        accepted = self._client.request("POST", "/ingest", token=self._token, json_body=body)
        expect(accepted.status == 202, "ingest_creates_lead", "POST /ingest did not accept the event", accepted)
        lead_id = self.find(kind, value)
        expect(
            lead_id is not None,
            "ingest_creates_lead",
            f"the lead of alias {value} did not appear within {self._wait_timeout:g} s",
            accepted,
        )
        assert lead_id is not None
        with self._lock:
            self._leads.append(lead_id)
            self._alias_of[lead_id] = (kind, value)
        return lead_id

    def alias_of(self, lead_id: str) -> tuple[str, str]:
        """The alias a lead was created with."""
        with self._lock:
            return self._alias_of[lead_id]

    def current(self) -> str:
        """An owned lead that has not been deleted, created on first use."""
        with self._lock:
            current = self._current
        if current is None or current in self._deleted:
            current = self.create()
            with self._lock:
                self._current = current
        return current

    def mark_deleted(self, lead_id: str) -> None:
        with self._lock:
            self._deleted.add(lead_id)

    def cleanup(self) -> list[str]:
        """Delete every lead of the run; returns what could not be removed (empty when all is clean)."""
        with self._lock:
            aliases = list(self._aliases)
            leads = list(self._leads)
        leftovers: list[str] = []
        for kind, value in aliases:
            response = self._client.request(
                "GET", "/lead/by-alias", token=self._token, params={"kind": kind, "value": value}
            )
            if response.status == 200:
                leads.append(response.json()["lead_id"])
        for lead_id in dict.fromkeys(leads):
            if lead_id in self._deleted:
                continue
            response = self._client.request("DELETE", f"/lead/{lead_id}", token=self._token)
            if response.status not in (200, 404):
                leftovers.append(f"{lead_id}: DELETE answered {response.status}")
            self.mark_deleted(lead_id)
        return leftovers


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

    def observe(self, case: Any, status: int) -> None:
        """Call after a case was sent: a lead this run deleted must not be used again."""
        if self._owned is not None and case.method.upper() == "DELETE" and status == 200:
            for value in (case.path_parameters or {}).values():
                self._owned.mark_deleted(str(value))


def _kind_beside(place: Place, places: tuple[Place, ...]) -> str | None:
    """The field beside an alias value that holds its kind (so the marker is recorded with it)."""
    if place.identifies != "lead-alias" or not place.pointer:
        return None
    for other in places:
        beside = other.location == place.location and other.pointer[:-1] == place.pointer[:-1]
        if other.identifies == "lead-alias-kind" and beside:
            return other.pointer[-1]
    return None
