"""Semantic contracts that write. Against a deployment they run only with LEADVIBE_ALLOW_WRITES=1, and only
on leads this run created through POST /ingest (deleted again at the end of the run)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.conftest import requires_other_token, requires_writes
from contracts.probes import body_strategy, contract_settings, send
from contracts.run import current_run
from contracts.safety import OwnedLeads
from contracts.spec_requests import ExampleRequest, example_request, lead_operations
from contracts.verdict import expect, expect_status
from mock_server.timeutil import parse_timestamp

RUN = current_run()
pytestmark = requires_writes
TOKEN = RUN.target.token
MAX_KEYS = RUN.spec.schema("LeadMetadata")["maxProperties"]


def owned() -> OwnedLeads:
    assert RUN.owned is not None
    return RUN.owned


def read(lead_id: str) -> Any:
    response = RUN.client.request("GET", f"/lead/{lead_id}", token=TOKEN)
    expect_status(response, 200, "write_persists", f"an owned lead {lead_id} cannot be read")
    return response


def safe_request(operation_id: str, lead_id: str) -> ExampleRequest:
    """The spec's example request of an operation, on one of our leads and with one of our aliases."""
    request = example_request(RUN.spec, operation_id, lead_id)
    if operation_id == "ingestEvent":
        return ExampleRequest(
            request.operation_id,
            request.method,
            request.path,
            request.query,
            {"event_type": "contract_probe", "lead_id": lead_id},
        )
    if operation_id == "getLeadByAlias":
        kind, value = owned().alias_of(lead_id)
        return ExampleRequest(request.operation_id, request.method, request.path, {"kind": kind, "value": value})
    return request


@contract_settings(RUN, 15)
@given(updates=st.lists(body_strategy("updateLead"), min_size=1, max_size=4))
def test_what_put_writes_get_returns_and_updated_at_only_advances(updates: list[dict[str, Any]]) -> None:
    lead_id = owned().create()
    first = read(lead_id).json()
    previous = parse_timestamp(first["updated_at"])
    expected = {"owner_name": first["owner_name"], "metadata": first["metadata"]}
    for update in updates:
        put = RUN.client.request("PUT", f"/lead/{lead_id}", token=TOKEN, json_body=update)
        expect_status(put, 200, "write_persists", "PUT of a schema-valid body")
        expected.update(update)
        got = read(lead_id)
        body = got.json()
        expect(body == put.json(), "write_persists", "GET differs from the PUT response", put, got)
        expect(
            {k: body[k] for k in expected} == expected, "write_persists", "GET does not return what PUT wrote", put, got
        )
        expect(body["created_at"] == first["created_at"], "timestamps_monotonic", "created_at changed", got)
        updated = parse_timestamp(body["updated_at"])
        expect(updated > previous, "timestamps_monotonic", f"updated_at did not advance past {previous}", put, got)
        previous = updated


@contract_settings(RUN, 15)
@given(patches=st.lists(body_strategy("patchLeadMetadata"), min_size=1, max_size=4))
def test_patch_merges_and_a_key_sent_as_null_is_removed(patches: list[dict[str, Any]]) -> None:
    lead_id = owned().create()
    model = dict(read(lead_id).json()["metadata"])
    previous = parse_timestamp(read(lead_id).json()["updated_at"])
    for patch in patches:
        response = RUN.client.request("PATCH", f"/lead/{lead_id}/metadata", token=TOKEN, json_body=patch)
        merged = {key: value for key, value in {**model, **patch}.items() if value is not None}
        if response.status == 409:  # documented: the lead would hold too many keys; nothing changes
            expect(len(merged) > MAX_KEYS, "patch_merges", "409 for a patch within the key limit", response)
            expect(read(lead_id).json()["metadata"] == model, "patch_merges", "a refused patch changed the lead")
            continue
        expect_status(response, 200, "patch_merges", "PATCH of a schema-valid body")
        model = merged
        got = read(lead_id)
        expect(
            got.json()["metadata"] == model, "patch_merges", "metadata is not the merge of the patches", response, got
        )
        updated = parse_timestamp(got.json()["updated_at"])
        expect(updated > previous, "timestamps_monotonic", "updated_at did not advance on PATCH", response, got)
        previous = updated


def test_after_delete_every_lead_operation_is_404_and_the_deletion_completes() -> None:
    lead_id = owned().create()
    deleted = RUN.client.request("DELETE", f"/lead/{lead_id}", token=TOKEN)
    expect_status(deleted, 200, "deletion", "DELETE of an owned lead")
    expect(deleted.json() == {"message": "Lead deletion initiated", "lead_id": lead_id}, "deletion", "body", deleted)
    owned().mark_deleted(lead_id)
    for operation_id in [op.operation_id for op in lead_operations(RUN.spec)] + ["getLeadByAlias"]:
        if operation_id == "getLeadDeletionStatus":
            continue
        response = send(RUN.client, safe_request(operation_id, lead_id), TOKEN)
        expect(response.status == 404, "deleted_lead_is_gone", f"{operation_id} still serves a deleted lead", response)
    ingest = send(RUN.client, safe_request("ingestEvent", lead_id), TOKEN)
    expect(ingest.status == 404, "deleted_lead_is_gone", "ingest by id into a deleted lead", ingest)
    deadline = time.monotonic() + RUN.target.wait_timeout
    while True:
        status = RUN.client.request("GET", f"/lead/{lead_id}/deletion-status", token=TOKEN)
        expect_status(status, 200, "deletion", "deletion status of a deleted lead")
        body = status.json()
        if body["status"] != "pending" or time.monotonic() > deadline:
            break
        expect(body["completed_at"] is None, "deletion", "completed_at set while pending", status)
        time.sleep(0.1)
    expect(body["status"] == "completed", "deletion", f"not completed within {RUN.target.wait_timeout:g} s", status)
    done = parse_timestamp(body["completed_at"])
    expect(done >= parse_timestamp(body["requested_at"]), "deletion", "completed before it was requested", status)


@contract_settings(RUN, 8)
@given(
    kind=st.sampled_from(RUN.spec.schema("AliasKind")["enum"]),
    event=st.sampled_from(["page_view", "Page View", "demo_request"]),
)
def test_ingest_with_a_new_alias_creates_a_lead_that_by_alias_finds(kind: str, event: str) -> None:
    alias_kind, value = owned().marker(kind)
    unique_event = f"lvc {RUN.target.run_id} {event}"
    body = {"event_type": unique_event, "aliases": [{"alias_kind": alias_kind, "raw_value": value}]}
    accepted = RUN.client.request("POST", "/ingest", token=TOKEN, json_body=body)
    expect_status(accepted, 202, "ingest_creates_lead", "ingest of a new alias")
    lead_id = owned().find(alias_kind, value)
    expect(lead_id is not None, "ingest_creates_lead", f"by-alias does not find {kind} {value}", accepted)
    assert lead_id is not None
    if "lead_id" in accepted.json():
        expect(accepted.json()["lead_id"] == lead_id, "ingest_creates_lead", "202 names another lead", accepted)
    aliases = RUN.client.request("GET", f"/lead/{lead_id}/aliases", token=TOKEN)
    expect(
        {(a["kind"], a["value"]) for a in aliases.json()["aliases"]} == {(alias_kind, value)},
        "ingest_creates_lead",
        "aliases",
        aliases,
    )
    listed = RUN.client.request("GET", "/leads", token=TOKEN, params={"event_type": unique_event})
    leads = [lead["lead_id"] for lead in listed.json()["leads"]]
    expect(leads == [lead_id], "list_filters", "event_type does not select exactly the lead", listed)
    again = RUN.client.request("POST", "/ingest", token=TOKEN, json_body={**body, "event_type": "contract_probe"})
    expect_status(again, 202, "ingest_creates_lead", "a second event on the same alias")
    expect(
        owned().find(alias_kind, value) == lead_id, "ingest_creates_lead", "a known alias created another lead", again
    )


WRITE_OPERATIONS = sorted(op.operation_id for op in RUN.spec.operations.values() if op.method != "get")


@pytest.mark.parametrize("operation_id", WRITE_OPERATIONS)
def test_writes_without_a_valid_token_are_401_and_change_nothing(operation_id: str) -> None:
    lead_id = owned().create()
    before = read(lead_id).json()
    request = safe_request(operation_id, lead_id)
    for token in (None, f"kbn_pat_invalid_{RUN.target.run_id}"):
        response = send(RUN.client, request, token)
        expect(response.status == 401, "requires_auth", f"{request.label} with token {token!r}", response)
        expect(
            response.headers.get("www-authenticate", "").startswith("Bearer"), "requires_auth", "no challenge", response
        )
    expect(read(lead_id).json() == before, "requires_auth", "a refused write changed the lead")


@requires_other_token
@pytest.mark.parametrize("other", range(len(RUN.other_tokens)))
def test_another_ou_cannot_write_to_a_lead(other: int) -> None:
    lead_id = owned().create()
    before = read(lead_id).json()
    writes = [op.operation_id for op in lead_operations(RUN.spec) if op.method != "get"]
    for operation_id in [*writes, "ingestEvent"]:
        response = send(RUN.client, safe_request(operation_id, lead_id), RUN.other_tokens[other])
        expect(response.status == 404, "ou_isolation", f"{operation_id} on another OU's lead", response)
    expect(read(lead_id).json() == before, "ou_isolation", "another OU changed the lead")
