"""Safety against a live deployment that holds shared data.

With writes allowed, the run writes only to leads it created itself through POST /ingest, under
recognisable aliases (`lvc-<run id>-<n>@contracts.invalid`), and deletes them at the end. Every
generated write request is rewritten before it is sent: a lead id that could name a real lead becomes
one of ours, and ingested aliases become ours. Values that are invalid anyway (negative test data)
are left alone: they cannot address real data.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from contracts.client import READ_METHODS, ApiClient, ReadOnlyViolation
from contracts.verdict import expect
from mock_server.spec import ApiSpec

PROBE_EVENT = "contract_probe"


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


class LiveSafety:
    """Rewrites generated write requests so that they only ever touch this run's own leads."""

    def __init__(self, spec: ApiSpec, owned: OwnedLeads | None, *, read_only: bool) -> None:
        self._owned = owned
        self._read_only = read_only
        self._lead_id = spec.component_validator("LeadId")
        self._kind = spec.component_validator("AliasKind")
        self._value = spec.component_validator("AliasValue")

    @property
    def active(self) -> bool:
        return self._owned is not None

    def prepare(self, case: Any) -> None:
        """Call before sending a generated case (a Schemathesis `Case`)."""
        if self._read_only and case.method.upper() not in READ_METHODS:
            raise ReadOnlyViolation(f"read-only run: refused to send {case.method} {case.path}")
        owned = self._owned
        if owned is None or case.method.upper() in READ_METHODS:
            return
        lead_id = case.path_parameters.get("leadID") if case.path_parameters else None
        if lead_id is not None and self._lead_id.is_valid(lead_id):
            case.path_parameters["leadID"] = owned.current()
        if case.path == "/ingest" and isinstance(case.body, dict):
            case.body = self._own_event(case.body, owned)

    def _own_event(self, body: dict[str, Any], owned: OwnedLeads) -> dict[str, Any]:
        body = dict(body)
        if "lead_id" in body and self._lead_id.is_valid(body["lead_id"]):
            body["lead_id"] = owned.current()
        if isinstance(body.get("aliases"), list):
            body["aliases"] = [self._own_alias(alias, owned) for alias in body["aliases"]]
        return body

    def _own_alias(self, alias: Any, owned: OwnedLeads) -> Any:
        if not isinstance(alias, dict):
            return alias
        kind, value = alias.get("alias_kind"), alias.get("raw_value")
        if not (self._kind.is_valid(kind) and self._value.is_valid(value)):
            return alias
        _, marker = owned.marker(str(kind))
        return {**alias, "raw_value": marker}

    def observe(self, case: Any, status: int) -> None:
        """Call after a case was sent: a lead this run deleted must not be used again."""
        if self._owned is not None and case.method.upper() == "DELETE" and status == 200:
            self._owned.mark_deleted(str(case.path_parameters.get("leadID")))
