"""Which leads this run owns, proven before it writes to any of them, and recorded durably.

A lead is the run's own only when all of these hold: the run's own ingest of a fresh marker alias
(`lvc-<run id>-<n>@contracts.invalid`) was accepted; by-alias answers a lead for that marker and agrees
with the lead id the 202 named, if it named one; every alias of that lead is one of the run's markers;
and the lead was not among those listed before the run. Before the first lead, a canary marker that was
never ingested must be unknown to by-alias (an API that answers some lead for any alias would otherwise
hand the run a stranger's lead). A lead that fails the proof is never written to or deleted.

Every marker and proven lead goes to a ledger file before the next step, so that an interrupted run
(SIGKILL, a crash, a cleanup cut short) leaves a record the next run or `leadvibe-contracts cleanup`
uses to remove what is left, again only after proving ownership.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.blockage import Blockage
from contracts.client import ApiClient, ApiResponse
from contracts.throttle import BudgetExhausted
from contracts.verdict import ContractViolation, Violation, expect

PROBE_EVENT = "contract_probe"
# What clean-up may need per marker: by-alias, the lead's aliases (the proof), and the DELETE.
CLEANUP_REQUESTS_PER_MARKER = 3
MARKER_DOMAIN = "contracts.invalid"


class OwnershipUnproven(ContractViolation):
    """The API handed the run a lead it cannot prove it created: nothing is written to it."""


class IngestBlocked(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """An earlier owned lead never appeared (reported once, as a failure): what needs one is skipped,
    with the reason, instead of waiting and failing again."""


def token_id(token: str) -> str:
    """A short fingerprint of a token, for the ledger: which credential wrote a marker, never the credential."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class Item:
    """One marker of a ledger and what became of it: pending until its lead is deleted or it is proven never
    to have made one."""

    run: str
    kind: str
    value: str
    token: str  # the fingerprint of the token that wrote it ("" in ledgers older than fingerprints)
    at: str
    lead_id: str | None = None
    accepted: bool = False  # a write carrying it was accepted: its lead may appear later (a queued ingest)


@dataclass
class Ledger:
    """An append-only JSON-lines file of markers and owned leads, per deployment, fsynced per entry."""

    path: Path
    base_url: str
    token: str = ""  # the fingerprint (token_id) of the run's token, written with every entry
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, event: str, **data: Any) -> None:
        entry = {"at": datetime.now(UTC).isoformat(), "base_url": self.base_url, "event": event, **data}
        if self.token:
            entry["token"] = self.token
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
                handle.flush()
                os.fsync(handle.fileno())

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill: the entries before it still count
            if isinstance(entry, dict) and entry.get("base_url") == self.base_url:
                yield entry

    def open_items(self) -> list[Item]:
        """Markers not yet resolved: their lead not deleted, and not proven never created (every write that
        carried the marker refused, none accepted)."""
        items: dict[str, Item] = {}
        resolved: set[str] = set()
        rejected: set[str] = set()
        for entry in self.entries():
            event, value = entry.get("event"), entry.get("value", "")
            if event == "marker":
                items[value] = Item(entry["run"], entry["kind"], value, entry.get("token", ""), entry["at"])
            elif value not in items:
                continue
            elif event == "owned":
                items[value].lead_id = entry["lead_id"]
            elif event == "accepted":
                items[value].accepted = True
            elif event == "rejected":
                rejected.add(value)
            elif event in ("deleted", "gone", "expired"):
                resolved.add(value)
        never_made = {value for value in rejected if not items[value].accepted and items[value].lead_id is None}
        return [item for value, item in items.items() if value not in resolved | never_made]

    def compact(self) -> None:
        """Rewrite the file with only what is still open (atomically); remove it when nothing is."""
        with self._lock:
            items = self.open_items()
            if not items:
                self.path.unlink(missing_ok=True)
                return
            lines = []
            for item in items:
                base = {"at": item.at, "base_url": self.base_url, "run": item.run, "kind": item.kind}
                base |= {"value": item.value, **({"token": item.token} if item.token else {})}
                lines.append({**base, "event": "marker"})
                if item.lead_id is not None:
                    lines.append({**base, "event": "owned", "lead_id": item.lead_id})
                if item.accepted:
                    lines.append({**base, "event": "accepted"})
            draft = self.path.with_name(f"{self.path.name}.{os.getpid()}")
            draft.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
            os.replace(draft, self.path)


def is_marker(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("lvc-") and value.endswith(f"@{MARKER_DOMAIN}")


class OwnedLeads:
    """Leads this run created and proved its own, and the marker aliases it ingested."""

    def __init__(
        self,
        client: ApiClient,
        token: str,
        run_id: str,
        wait_timeout: float,
        ledger: Ledger | None = None,
        book: Callable[[int], None] = lambda requests: None,
        blockage: Blockage | None = None,
    ) -> None:
        self._blockage = blockage or Blockage()
        self._book = book
        self._client = client
        self._token = token
        self._run_id = run_id
        self._wait_timeout = wait_timeout
        self._ledger = ledger
        self._counter = itertools.count(1)
        self._lock = threading.RLock()
        self._leads: list[str] = []
        self._deleted: set[str] = set()
        self._aliases: list[tuple[str, str]] = []
        self._alias_of: dict[str, tuple[str, str]] = {}
        self._current: str | None = None
        self._foreign: set[str] | None = None  # leads listed before the run created any
        self.refusals: list[str] = []  # leads the API offered that the run refused to own
        self._accepted: set[str] = set()  # markers a write was accepted with (a 2xx): a lead may follow
        self._rejected: set[str] = set()  # markers whose write was refused (a 4xx): no lead can follow

    # -- markers and proof ----------------------------------------------------------------------

    def marker(self, kind: str = "email") -> tuple[str, str]:
        """A fresh alias only this run uses; recorded (durably) before it is sent."""
        self._baseline()  # what existed before the run is known before any marker can create a lead
        self._book(CLEANUP_REQUESTS_PER_MARKER)  # clean-up's share of the budget, before a lead can exist
        with self._lock:
            alias = (kind, f"lvc-{self._run_id}-{next(self._counter)}@{MARKER_DOMAIN}")
            self._aliases.append(alias)
        if self._ledger is not None:
            self._ledger.record("marker", run=self._run_id, kind=alias[0], value=alias[1])
        return alias

    def accepted(self, value: str) -> None:
        """A write carrying this marker was accepted: its lead may appear later (ingest is asynchronous)."""
        with self._lock:
            if value in self._accepted:
                return
            self._accepted.add(value)
        if self._ledger is not None:
            self._ledger.record("accepted", run=self._run_id, value=value)

    def rejected(self, value: str) -> None:
        """Every write carrying this marker got a definitive refusal: it never made a lead (the ledger may
        forget it), unless a write carrying it was accepted too."""
        with self._lock:
            if value in self._accepted or value in self._rejected:
                return
            self._rejected.add(value)
        if self._ledger is not None:
            self._ledger.record("rejected", run=self._run_id, value=value)

    def is_own_marker(self, value: Any) -> bool:
        return isinstance(value, str) and value.startswith(f"lvc-{self._run_id}-")

    def find(self, kind: str, value: str) -> str | None:
        """The lead of an alias, waiting (bounded) for an asynchronous ingest to land.

        Once a lead failed to appear, later lookups do not wait again: the run fails fast.
        """
        deadline = time.monotonic() + (0 if self.blocked else self._wait_timeout)
        while True:
            response = self._by_alias(kind, value)
            if response.status == 200:
                lead_id: str = response.json()["lead_id"]
                return lead_id
            if response.status != 404:
                return None
            if time.monotonic() > deadline or self.blocked:  # blocked meanwhile, by another worker of the run
                return None
            time.sleep(0.25)

    def _by_alias(self, kind: str, value: str) -> ApiResponse:
        return self._client.request("GET", "/lead/by-alias", token=self._token, params={"kind": kind, "value": value})

    def _baseline(self) -> set[str]:
        """Leads that existed before the run, and a canary: by-alias must not know a marker never sent."""
        with self._lock:
            if self._foreign is not None:
                return self._foreign
            foreign: set[str] = set()
            for page in (1, 2):
                listed = self._client.request("GET", "/leads", token=self._token, params={"page": page, "limit": 100})
                if listed.status != 200:
                    break
                foreign |= {lead["lead_id"] for lead in listed.json().get("leads", []) if "lead_id" in lead}
            canary = f"lvc-{self._run_id}-canary@{MARKER_DOMAIN}"
            answer = self._by_alias("email", canary)
            if answer.status == 200:
                self._block_or_skip(f"GET /lead/by-alias answers a lead for an alias never ingested ({canary})")
                raise OwnershipUnproven(
                    Violation(
                        "ownership",
                        "by-alias answers a lead for an alias that was never ingested, so no lead can be proven "
                        "the run's own; no write is sent",
                        (answer,),
                    )
                )
            self._foreign = foreign
            return foreign

    def _prove(self, lead_id: str, kind: str, value: str, accepted: ApiResponse | None) -> str | None:
        """Why `lead_id` is not provably the run's own lead of this marker; None when it is."""
        if accepted is not None:
            named = (accepted.json() or {}).get("lead_id") if accepted.text else None
            if named is not None and named != lead_id:
                return f"the 202 named lead {named!r} but by-alias answers {lead_id!r}"
        if lead_id in self._baseline():
            return f"{lead_id!r} was listed before the run created any lead"
        aliases = self._client.request("GET", f"/lead/{lead_id}/aliases", token=self._token)
        if aliases.status != 200:
            return f"its aliases cannot be read (GET /lead/{lead_id}/aliases answered {aliases.status})"
        values = [alias.get("value") for alias in aliases.json().get("aliases", [])]
        strangers = [v for v in values if not self.is_own_marker(v)]
        if strangers or value not in values:
            return f"its aliases {values[:5]} are not only this run's markers"
        return None

    @property
    def blocked(self) -> str | None:
        """Why no lead can be had (reported once by the test that found it), or None."""
        return self._blockage.reason

    def _block_or_skip(self, reason: str) -> None:
        """Record why no lead can be had; IngestBlocked if that was known already (it is reported once)."""
        if not self._blockage.claim(reason):
            raise IngestBlocked(f"blocked: {self.blocked} (reported once, by the first test that needed a lead)")

    # -- leads ----------------------------------------------------------------------------------

    def create(self, event_type: str = PROBE_EVENT, metadata: dict[str, Any] | None = None) -> str:
        """A new lead of this run, proven its own; fails once, then blocks, if leads never appear."""
        if self.blocked is not None:
            raise IngestBlocked(f"blocked: {self.blocked} (reported once, by the first test that needed a lead)")
        self._baseline()
        kind, value = self.marker()
        body = {
            "event_type": event_type,
            "aliases": [{"alias_kind": kind, "raw_value": value}],
            "metadata": metadata or {"source": "leadvibe-contracts"},
        }
        accepted = self._client.request("POST", "/ingest", token=self._token, json_body=body)
        if 400 <= accepted.status < 500:
            self.rejected(value)
        expect(accepted.status == 202, "ingest_creates_lead", "POST /ingest did not accept the event", accepted)
        lead_id = self.find(kind, value)
        if lead_id is None:
            self.refusals.append(f"{value}: ingested, never found by alias")
            self._block_or_skip(f"an ingested lead ({value}) did not appear within {self._wait_timeout:g} s")
            raise ContractViolation(
                Violation(
                    "ingest_creates_lead",
                    f"the lead of alias {value} did not appear within {self._wait_timeout:g} s; the tests that "
                    "need a lead of their own are skipped",
                    (accepted,),
                )
            )
        refusal = self._prove(lead_id, kind, value, accepted)
        if refusal is not None:
            self.refusals.append(f"{lead_id}: {refusal}")
            self._block_or_skip(f"ownership of {lead_id} could not be proven: {refusal}")
            raise OwnershipUnproven(
                Violation(
                    "ownership",
                    f"POST /ingest of {value} led to {lead_id!r}, which the run cannot prove it created: "
                    f"{refusal}; nothing is written to it",
                    (accepted,),
                )
            )
        with self._lock:
            self._leads.append(lead_id)
            self._alias_of[lead_id] = (kind, value)
        if self._ledger is not None:
            self._ledger.record("owned", run=self._run_id, lead_id=lead_id, kind=kind, value=value)
        return lead_id

    def owns(self, lead_id: Any) -> bool:
        """Proven the run's own (deleted or not)."""
        with self._lock:
            return lead_id in self._alias_of

    def alias_of(self, lead_id: str) -> tuple[str, str]:
        """The alias a lead was created with."""
        with self._lock:
            return self._alias_of[lead_id]

    def current(self) -> str:
        """An owned lead that has not been deleted, created on first use."""
        with self._lock:
            current = self._current
            if current is None or current in self._deleted:
                current = self._current = self.create()
            return current

    def mark_deleted(self, lead_id: str) -> None:
        with self._lock:
            if lead_id not in self._alias_of:
                return
            self._deleted.add(lead_id)
            kind, value = self._alias_of[lead_id]
        if self._ledger is not None:
            self._ledger.record("deleted", run=self._run_id, lead_id=lead_id, kind=kind, value=value)

    # -- clean-up -------------------------------------------------------------------------------

    def cleanup(self) -> list[str]:
        """Delete every lead of the run; returns what could not be removed (empty when all is clean)."""
        try:
            return self._cleanup()
        except BudgetExhausted as exc:
            return [f"clean-up stopped, {exc}; the ledger keeps what is left for the next run or `cleanup`"]

    def _cleanup(self) -> list[str]:
        """Delete every lead of the run; returns what could not be removed (empty when all is clean).

        Markers whose lead was never proven are looked up once more and removed only if the proof
        holds now; anything else is reported, never deleted. A marker an accepted write carried (an
        ingest the API queued) is awaited, within the wait timeout for all of them together, with
        backing-off lookups, so that a lead created just before the end is not left behind.
        """
        with self._lock:
            leads = [lead for lead in self._leads if lead not in self._deleted]
            unresolved = [alias for alias in self._aliases if alias not in self._alias_of.values()]
            accepted = set(self._accepted)
        leftovers: list[str] = []
        deadline = time.monotonic() + (0 if self.blocked else self._wait_timeout)
        for kind, value in unresolved:
            response = self._by_alias(kind, value)
            pause = 0.25
            while response.status == 404 and value in accepted and time.monotonic() + pause < deadline:
                time.sleep(pause)
                pause = min(pause * 2, 4.0)
                response = self._by_alias(kind, value)
            if response.status != 200:
                continue
            lead_id = response.json()["lead_id"]
            refusal = None if lead_id in leads else self._prove(lead_id, kind, value, None)
            if refusal is not None:
                leftovers.append(f"{lead_id}: not deleted, ownership unproven ({refusal})")
                continue
            with self._lock:
                self._alias_of.setdefault(lead_id, (kind, value))
            leads.append(lead_id)
        for lead_id in dict.fromkeys(leads):
            response = self._client.request("DELETE", f"/lead/{lead_id}", token=self._token)
            if response.status not in (200, 404):
                leftovers.append(f"{lead_id}: DELETE answered {response.status}")
                continue
            self.mark_deleted(lead_id)
        return leftovers


@dataclass
class Sweep:
    """What a sweep of earlier runs' ledgers did: each line says which lead or marker, and why."""

    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # what needs a person: unprovable, or another token's (kept)
    pending: list[str] = field(default_factory=list)  # no lead yet (a queued ingest, an unknown answer): kept


PENDING_DAYS = 7  # a marker whose lead never appeared in this long is dropped from the ledger, loudly


def sweep(client: ApiClient, token: str, ledgers: list[Ledger], canary: str, wait_timeout: float = 0.0) -> Sweep:
    """Remove what earlier runs left behind, with the proof a run demands before its first write.

    A lead is deleted only when by-alias (which must not know `canary`, a marker never ingested) names it
    for a marker of the ledger, the marker is among the lead's aliases, and every alias of the lead is a
    marker of that same run. A marker is resolved only when its lead was deleted, or when it is proven
    never to have made one; a marker written with another token, or whose lead has not appeared (a
    queued ingest), stays pending, with a message. Each ledger is compacted afterwards.
    """
    done = Sweep()
    work = [(ledger, item) for ledger in ledgers for item in ledger.open_items()]
    if not work:
        return done
    probe = client.request("GET", "/lead/by-alias", token=token, params={"kind": "email", "value": canary})
    if probe.status != 404:
        reason = f"by-alias answered {probe.status} for {canary}, an alias never ingested: no lead can be proven"
        done.left += [f"{item.value} (run {item.run}): not deleted, {reason}" for _, item in work]
        return done
    mine = token_id(token)
    deadline = time.monotonic() + wait_timeout
    for ledger, item in work:
        label = f"{item.lead_id or item.value} (run {item.run})"
        if item.token and item.token != mine:
            done.left.append(f"{label}: written with another token ({item.token}): kept; run cleanup with that one")
            continue
        found = _await_alias(client, token, item, deadline)
        if found.status == 200:
            lead_id = str((found.json() or {}).get("lead_id"))
            refusal = _disproof(client, token, item, lead_id)
            if refusal is not None:
                done.left.append(f"{lead_id} (run {item.run}): not deleted, {refusal}")
                continue
            deleted = client.request("DELETE", f"/lead/{lead_id}", token=token)
            if deleted.status in (200, 404):
                ledger.record("deleted", run=item.run, lead_id=lead_id, kind=item.kind, value=item.value)
                done.removed.append(f"{lead_id} (run {item.run})")
            else:
                done.left.append(f"{lead_id} (run {item.run}): DELETE answered {deleted.status}")
        elif found.status != 404:
            done.pending.append(f"{label}: by-alias answered {found.status}; kept for the next sweep")
        elif item.lead_id is not None and _is_gone(client, token, item.lead_id):
            ledger.record("gone", run=item.run, lead_id=item.lead_id, kind=item.kind, value=item.value)
        elif item.lead_id is not None:
            done.left.append(f"{label}: by-alias no longer finds its marker, but the lead is there; not deleted")
        elif datetime.now(UTC) - datetime.fromisoformat(item.at) > timedelta(days=PENDING_DAYS):
            ledger.record("expired", run=item.run, value=item.value)
            done.pending.append(f"{label}: never appeared in {PENDING_DAYS} days; dropped from the ledger")
        else:
            why = "its write was accepted" if item.accepted else "its write's answer was never recorded"
            done.pending.append(f"{label}: no lead yet, but {why}; kept for the next sweep")
    for ledger in ledgers:
        ledger.compact()
    return done


def _await_alias(client: ApiClient, token: str, item: Item, deadline: float) -> ApiResponse:
    """by-alias for the item's marker; a marker an accepted write carried is awaited until `deadline`."""
    pause = 0.25
    while True:
        found = client.request("GET", "/lead/by-alias", token=token, params={"kind": item.kind, "value": item.value})
        if found.status != 404 or not item.accepted or item.lead_id or time.monotonic() + pause > deadline:
            return found
        time.sleep(pause)
        pause = min(pause * 2, 4.0)


def _disproof(client: ApiClient, token: str, item: Item, lead_id: str) -> str | None:
    """Why `lead_id` is not provably the lead of this ledger's marker; None when it is."""
    if item.lead_id is not None and lead_id != item.lead_id:
        return f"by-alias names it for {item.value}, but the ledger recorded {item.lead_id}"
    aliases = client.request("GET", f"/lead/{lead_id}/aliases", token=token)
    if aliases.status != 200:
        return f"its aliases cannot be read ({aliases.status})"
    values = [alias.get("value") for alias in (aliases.json() or {}).get("aliases", [])]
    if item.value not in values:
        return f"the ledger's marker {item.value} is not among its aliases {values[:5]}"
    own = f"lvc-{item.run}-"
    if not all(isinstance(value, str) and value.startswith(own) and is_marker(value) for value in values):
        return f"its aliases {values[:5]} are not only markers of run {item.run}"
    return None


def _is_gone(client: ApiClient, token: str, lead_id: str) -> bool:
    """The lead answers 404 (with the token that wrote it): deleted, by its run or since."""
    return client.request("GET", f"/lead/{lead_id}/aliases", token=token).status == 404
