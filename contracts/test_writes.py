"""Semantic contracts that write. Against a deployment they run only with LEADVIBE_ALLOW_WRITES=1, and only
on leads this run created through POST /ingest (deleted again at the end of the run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from contracts.client import ApiResponse
from contracts.ownership import OwnedLeads
from contracts.probes import body_strategy, send, show
from contracts.run import Run
from contracts.timestamps import parse_timestamp
from contracts.verdict import Findings, expect, expect_status
from leadvibe_contract.examples import ExampleRequest, example_request


def read(run: Run, lead_id: str, until: Callable[[dict[str, Any]], bool] | None = None) -> ApiResponse:
    """GET the lead; with `until`, read again (within the run's consistency window) until it holds.

    The spec's decision is that reads see a write at once; LEADVIBE_CONSISTENCY_WINDOW tolerates a
    deployment whose replicas lag, so that a lag within it is not reported as a lost write.
    """
    deadline = time.monotonic() + run.target.consistency_window
    while True:
        response = run.client.request("GET", f"/lead/{lead_id}", token=run.token)
        expect_status(response, 200, "write_persists", f"an owned lead {lead_id} cannot be read")
        if until is None or until(response.json()) or time.monotonic() >= deadline:
            return response
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _has_metadata(metadata: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    return lambda body: bool(body["metadata"] == metadata)


def safe_request(run: Run, owned: OwnedLeads, operation_id: str, lead_id: str) -> ExampleRequest:
    """The spec's example request of an operation, addressed to one of our leads (never the example's)."""
    request = example_request(run.contract, operation_id, lead_id)
    places = run.contract.operations[operation_id].places
    body, query = request.body, dict(request.query)
    lead_fields = [p.pointer[0] for p in places if p.location == "body" and p.identifies == "lead" and p.pointer]
    if lead_fields and isinstance(body, dict):  # name our lead by id; drop the example's aliases
        alias_fields = {p.pointer[0] for p in places if p.location == "body" and p.identifies != "lead"}
        body = {key: value for key, value in body.items() if key not in alias_fields} | {lead_fields[0]: lead_id}
    for place in places:
        if place.location == "query" and place.identifies in ("lead-alias", "lead-alias-kind"):
            kind, value = owned.alias_of(lead_id)
            query[place.name] = value if place.identifies == "lead-alias" else kind
    return ExampleRequest(request.operation_id, request.method, request.path, query, body)


def advanced(run: Run, previous: datetime, updated: datetime) -> bool:
    """`updated_at` after a write: the mock's strictly advances; a deployment's may keep its value within
    the resolution of its timestamps (whole seconds), never go back (openapi.yaml, updateLead)."""
    return updated >= previous if run.target.live else updated > previous


def test_what_put_writes_get_returns_and_updated_at_only_advances(run: Run, owned: OwnedLeads) -> None:
    @run.settings(15)
    # What the docs state is checked on every run, whatever Hypothesis draws: PUT replaces what it names.
    @example(updates=[{"owner_name": "Grace", "metadata": {"plan": "pro", "seats": 3}}, {"metadata": {"tier": "a"}}])
    @given(updates=st.lists(body_strategy(run, "updateLead"), min_size=1, max_size=4))
    def put_then_get(updates: list[dict[str, Any]]) -> None:
        show(updates=updates)
        lead_id = owned.create()
        first = read(run, lead_id).json()
        previous = parse_timestamp(first["updated_at"])
        writable = run.contract.schema("LeadUpdate")["properties"]  # request bodies are open: the rest is ignored
        expected = {key: first.get(key) for key in writable}
        for update in updates:
            put = run.client.request("PUT", f"/lead/{lead_id}", token=run.token, json_body=update)
            expect_status(put, 200, "write_persists", "PUT of a schema-valid body")
            expected.update({key: value for key, value in update.items() if key in writable})  # others: ignored
            written = put.json()
            got = read(run, lead_id, until=written.__eq__)
            body = got.json()
            expect(body == put.json(), "write_persists", "GET differs from the PUT response", put, got)
            shown = {k: body.get(k) for k in expected}  # a null owner_name may be left out
            expect(shown == expected, "write_persists", "GET is not what PUT wrote", put, got)
            expect(body["created_at"] == first["created_at"], "timestamps_monotonic", "created_at changed", got)
            updated = parse_timestamp(body["updated_at"])
            expect(advanced(run, previous, updated), "timestamps_monotonic", "updated_at went back", put, got)
            previous = updated

    put_then_get()


def test_patch_merges_and_a_key_sent_as_null_is_removed(run: Run, owned: OwnedLeads) -> None:
    @run.settings(15)
    # Every run checks the merge and the removal by null (docs), whatever Hypothesis draws.
    @example(patches=[{"plan": "pro", "seats": 3}, {"plan": None, "tier": "a"}, {"source": None}])
    @given(patches=st.lists(body_strategy(run, "patchLeadMetadata"), min_size=1, max_size=4))
    def patches_merge(patches: list[dict[str, Any]]) -> None:
        show(patches=patches)
        lead_id = owned.create()
        model = dict(read(run, lead_id).json()["metadata"])
        previous = parse_timestamp(read(run, lead_id).json()["updated_at"])
        for patch in patches:
            response = run.client.request("PATCH", f"/lead/{lead_id}/metadata", token=run.token, json_body=patch)
            merged = {key: value for key, value in {**model, **patch}.items() if value is not None}
            if response.status == 409:  # the lead would hold more keys than the server keeps; nothing changes
                expect(read(run, lead_id).json()["metadata"] == model, "patch_merges", "a refused patch changed it")
                continue
            expect_status(response, 200, "patch_merges", "PATCH of a schema-valid body")
            model = merged
            got = read(run, lead_id, until=_has_metadata(model))
            expect(got.json()["metadata"] == model, "patch_merges", "metadata is not the merge", response, got)
            updated = parse_timestamp(got.json()["updated_at"])
            expect(advanced(run, previous, updated), "timestamps_monotonic", "updated_at on PATCH", response, got)
            previous = updated

    patches_merge()


def test_after_delete_every_lead_operation_is_404_and_the_deletion_completes(run: Run, owned: OwnedLeads) -> None:
    lead_id = owned.create()
    deleted = run.client.request("DELETE", f"/lead/{lead_id}", token=run.token)
    expect_status(deleted, 200, "deletion", "DELETE of an owned lead")
    shown = {key: deleted.json().get(key) for key in ("message", "lead_id")}  # more fields may follow
    expect(shown == {"message": "Lead deletion initiated", "lead_id": lead_id}, "deletion", "body", deleted)
    owned.mark_deleted(lead_id)
    lead_operations = [op.operation_id for op in run.contract.operations_where() if op.names_a_lead]
    for operation_id in [*lead_operations, "getLeadByAlias"]:
        if operation_id == "getLeadDeletionStatus":
            continue
        response = send(run.client, safe_request(run, owned, operation_id, lead_id), run.token)
        expect(response.status == 404, "deleted_lead_is_gone", f"{operation_id} still serves a deleted lead", response)
    ingest = send(run.client, safe_request(run, owned, "ingestEvent", lead_id), run.token)
    expect(ingest.status == 404, "deleted_lead_is_gone", "ingest by id into a deleted lead", ingest)
    deadline = time.monotonic() + run.target.wait_timeout
    while True:
        status = run.client.request("GET", f"/lead-deletions/{lead_id}", token=run.token)
        expect_status(status, 200, "deletion", "deletion status of a deleted lead")
        body = status.json()
        if body["status"] != "pending" or time.monotonic() > deadline:
            break
        expect(body.get("completed_at") is None, "deletion", "completed_at set while pending", status)
        time.sleep(0.1)
    expect(body["status"] == "completed", "deletion", f"not completed within {run.target.wait_timeout:g} s", status)
    done = parse_timestamp(body["completed_at"])
    expect(done >= parse_timestamp(body["requested_at"]), "deletion", "completed before it was requested", status)


def test_ingest_with_a_new_alias_creates_a_lead_that_by_alias_finds(run: Run, owned: OwnedLeads) -> None:
    @run.settings(8)
    @example(kind="email", event="page_view")  # creating, then updating, a lead: on every run
    @given(
        kind=st.sampled_from(run.contract.schema("AliasKind")["enum"]),
        event=st.sampled_from(["page_view", "Page View", "demo_request"]),
    )
    def ingest_creates(kind: str, event: str) -> None:
        show(kind=kind, event=event)
        alias_kind, value = owned.marker(kind)
        unique_event = f"lvc {run.target.run_id} {event}"
        body = {"event_type": unique_event, "aliases": [{"alias_kind": alias_kind, "raw_value": value}]}
        accepted = run.client.request("POST", "/ingest", token=run.token, json_body=body)
        expect_status(accepted, 202, "ingest_creates_lead", "ingest of a new alias")
        lead_id = owned.find(alias_kind, value)
        expect(lead_id is not None, "ingest_creates_lead", f"by-alias does not find {kind} {value}", accepted)
        assert lead_id is not None
        if "lead_id" in accepted.json():
            expect(accepted.json()["lead_id"] == lead_id, "ingest_creates_lead", "202 names another lead", accepted)
        aliases = run.client.request("GET", f"/lead/{lead_id}/aliases", token=run.token)
        found = {(a["kind"], a["value"]) for a in aliases.json()["aliases"]}
        expect(found == {(alias_kind, value)}, "ingest_creates_lead", "aliases", aliases)
        listed = run.client.request("GET", "/leads", token=run.token, params={"event_type": unique_event})
        leads = [lead["lead_id"] for lead in listed.json()["leads"]]
        expect(leads == [lead_id], "list_filters", "event_type does not select exactly the lead", listed)
        again = run.client.request(
            "POST", "/ingest", token=run.token, json_body={**body, "event_type": "contract_probe"}
        )
        expect_status(again, 202, "ingest_creates_lead", "a second event on the same alias")
        # The second event is applied (ingest may be queued) to the same lead: awaited, within the wait
        # timeout, in that lead's events; only then does by-alias still name it (and only then may the
        # lead be deleted: a queued event landing after the deletion would create a lead nobody removes).
        landed = _await_event(run, lead_id, "contract_probe")
        expect(landed is None, "ingest_creates_lead", f"a second event on a known alias: {landed}", again)
        expect(
            owned.find(alias_kind, value) == lead_id, "ingest_creates_lead", "a known alias made another lead", again
        )

    ingest_creates()


def _await_event(run: Run, lead_id: str, event_type: str) -> str | None:
    """None once the lead's events hold one of `event_type`; else why not, after the wait timeout."""
    deadline = time.monotonic() + run.target.wait_timeout
    while True:
        events = run.client.request("GET", f"/events/{lead_id}", token=run.token, params={"event_type": event_type})
        if events.status == 200 and events.json().get("events"):
            return None
        if time.monotonic() > deadline:
            return f"no {event_type} event on {lead_id} within {run.target.wait_timeout:g} s ([{events.status}])"
        time.sleep(0.25)


def test_writes_without_a_valid_token_are_401_and_change_nothing(run: Run, owned: OwnedLeads) -> None:
    lead_id = owned.create()
    before = read(run, lead_id).json()
    findings = Findings()  # every operation and token is checked, whatever fails first
    for operation in run.contract.operations_where(write=True):
        if operation.write is not None and operation.write.refusal is not None:
            continue  # the live gate never sends it (reported at the start of the run)
        request = safe_request(run, owned, operation.operation_id, lead_id)
        for token in (None, f"kbn_pat_invalid_{run.target.run_id}"):
            response = send(run.client, request, token)
            findings.expect(response.status == 401, "requires_auth", f"{request.label} with token {token!r}", response)
            challenge = response.headers.get("www-authenticate", "")
            findings.expect(
                run.target.live or challenge.startswith("Bearer"),
                "requires_auth",
                f"{request.label}: no Bearer challenge",
                response,
            )
    findings.expect(read(run, lead_id).json() == before, "requires_auth", "a refused write changed the lead")
    findings.check()


def test_another_ou_cannot_write_to_a_lead(run: Run, owned: OwnedLeads, other_tokens: tuple[str, ...]) -> None:
    lead_id = owned.create()
    before = read(run, lead_id).json()
    writes = [op.operation_id for op in run.contract.operations_where(write=True) if op.names_a_lead]
    for other in other_tokens:
        for operation_id in [*writes, "ingestEvent"]:
            response = send(run.client, safe_request(run, owned, operation_id, lead_id), other)
            expect(response.status == 404, "ou_isolation", f"{operation_id} on another OU's lead", response)
    expect(read(run, lead_id).json() == before, "ou_isolation", "another OU changed the lead")
