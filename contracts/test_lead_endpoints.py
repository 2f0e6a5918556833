"""Semantic contracts of the lead endpoints added from complete doc pages (issue 8), and the spec's
authentication schemes. Reads run everywhere; the writes only on the run's own leads (LEADVIBE_ALLOW_WRITES=1)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from contracts.ownership import OwnedLeads
from contracts.probes import send
from contracts.run import Run
from contracts.verdict import Findings, expect, expect_status
from leadvibe_contract.examples import example_request


def test_the_score_endpoints_agree_with_the_lead(run: Run, lead_ids: list[str]) -> None:
    for lead_id in lead_ids[:5]:
        lead = run.client.request("GET", f"/lead/{lead_id}", token=run.token)
        for path in (f"/score/{lead_id}", f"/leads/{lead_id}/score"):
            score = run.client.request("GET", path, token=run.token)
            expect_status(score, 200, "score_agrees", path)
            body = score.json()
            expect(body["lead_id"] == lead_id, "score_agrees", "another lead's score", score)
            expect(body["score"] == lead.json()["score"], "score_agrees", "score differs from the lead's", score, lead)
            if body["ruleset_id"]:
                primary = body["engagement_scores"].get(body["ruleset_id"])
                expect(primary == body["score"], "score_agrees", "score is not the primary ruleset's", score)


def test_top_leads_are_sorted_and_agree_with_the_list(run: Run, quiet: None) -> None:
    limit = int(run.contract.operations["listTopLeads"].parameter("limit").default)
    top = run.client.request("GET", "/top-leads", token=run.token)
    expect_status(top, 200, "top_leads", "GET /top-leads")
    leads = top.json()["leads"]
    expect(len(leads) <= limit, "top_leads", f"more than the default limit {limit}", top)
    scores = [lead["score"] for lead in leads]
    expect(scores == sorted(scores, reverse=True), "top_leads", "not highest score first", top)
    listed = run.client.request("GET", "/leads", token=run.token, params={"limit": limit})
    expect_status(listed, 200, "top_leads", "GET /leads")
    expected = [lead["score"] for lead in listed.json()["leads"]]
    expect(scores == expected, "top_leads", "the top scores are not the list's first page", top, listed)


def test_score_gains_are_largest_first_and_scores_are_current(run: Run, quiet: None) -> None:
    response = run.client.request("GET", "/score-gains", token=run.token, params={"limit": 20})
    expect_status(response, 200, "score_gains", "GET /score-gains")
    gains = response.json()["leads"]
    values = [lead["score_gain"] for lead in gains]
    expect(values == sorted(values, reverse=True), "score_gains", "not largest gain first", response)
    for item in gains[:3]:
        score = run.client.request("GET", f"/score/{item['lead_id']}", token=run.token)
        expect(score.json()["score"] == item["score"], "score_gains", "score differs from the lead's", response, score)


def test_an_ingested_event_appears_in_the_leads_events(run: Run, owned: OwnedLeads) -> None:
    lead_id = owned.create()
    event_type = f"lvc {run.target.run_id} email_click"
    accepted = run.client.request(
        "POST", "/ingest", token=run.token, json_body={"event_type": event_type, "lead_id": lead_id}
    )
    expect_status(accepted, 202, "events_record_ingest", "ingest by lead id")
    # The 202 may name the event (`event_id` is optional): found by its id, else by its unique type.
    event_id = accepted.json().get("event_id")

    def recorded(event: dict[str, Any]) -> bool:
        return bool(event["id"] == event_id if event_id is not None else event["event_type"] == event_type)

    deadline = time.monotonic() + run.target.wait_timeout  # 202: the docs make ingest asynchronous
    while True:
        events = run.client.request("GET", f"/events/{lead_id}", token=run.token)
        expect_status(events, 200, "events_record_ingest", "the lead's events")
        listed = events.json()["events"]
        if any(map(recorded, listed)) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    expect(all(event["lead_id"] == lead_id for event in listed), "events_record_ingest", "another lead's event", events)
    expect(
        any(map(recorded, listed)),
        "events_record_ingest",
        "the ingested event is not among the lead's events",
        accepted,
        events,
    )
    times = [event["created_at"] for event in listed]
    expect(times == sorted(times, reverse=True), "events_record_ingest", "events are not newest first", events)


def test_an_owner_set_by_post_is_what_get_returns(run: Run, owned: OwnedLeads) -> None:
    lead_id = owned.create()
    name = f"Owner {run.target.run_id}"
    assigned = run.client.request(
        "POST", f"/leads/{lead_id}/owner", token=run.token, json_body={"owner_id": "usr_lvc", "owner_name": name}
    )
    expect_status(assigned, 200, "owner_persists", "assign an owner")
    lead = run.client.request("GET", f"/lead/{lead_id}", token=run.token)
    expect(lead.json().get("owner_name") == name, "owner_persists", "GET does not return the owner set", assigned, lead)
    unassigned = run.client.request("POST", f"/leads/{lead_id}/owner", token=run.token, json_body={"owner_id": None})
    expect_status(unassigned, 200, "owner_persists", "unassign the owner")
    lead = run.client.request("GET", f"/lead/{lead_id}", token=run.token)
    expect(lead.json().get("owner_name") is None, "owner_persists", "the owner is still set", unassigned, lead)


def test_every_401_challenges_each_scheme_the_operation_declares(run: Run, lead_ids: list[str]) -> None:
    """Loops over the spec's security schemes: a 401 of the mock names every HTTP scheme the operation accepts."""
    if run.target.live:
        pytest.skip("the docs name no challenge: a deployment's may be any (openapi.yaml, Unauthorized)")
    schemes = run.contract.document["components"]["securitySchemes"]
    for operation in run.contract.operations_where():
        requirements = operation.raw.get("security", run.contract.document["security"])
        names = [schemes[name]["scheme"].capitalize() for requirement in requirements for name in requirement]
        request = example_request(run.contract, operation.operation_id, lead_id=lead_ids[0])
        if operation.is_write and run.owned is not None:
            continue  # a write without credentials is judged by test_writes; nothing here may change data
        response = send(run.client, request, None)
        expect(response.status == 401, "auth_schemes", f"{request.label} without credentials", response)
        challenge = response.headers.get("www-authenticate", "")
        for name in names:
            expect(name in challenge, "auth_schemes", f"{request.label}: the challenge does not name {name}", response)


def test_service_credentials_work_exactly_where_the_spec_declares_them(run: Run, lead_ids: list[str]) -> None:
    """HTTP Basic (client_id:client_secret, docs §1.2): accepted by the operations that declare it, refused
    (401 naming Basic) when wrong, and refused (401) by the operations that declare only Bearer. Reads only."""
    if run.target.basic is None:
        pytest.skip("set LEADVIBE_BASIC_CREDENTIALS=client_id:client_secret for the service-account contract")
    client_id, secret = run.target.basic
    schemes = run.contract.document["components"]["securitySchemes"]
    basic = {name for name, scheme in schemes.items() if str(scheme.get("scheme", "")).lower() == "basic"}
    findings = Findings()
    declared_anywhere = False
    for operation in run.contract.operations_where(write=False):
        requirements = operation.raw.get("security", run.contract.document["security"])
        declared = any(name in basic for requirement in requirements for name in requirement)
        declared_anywhere |= declared
        request = example_request(run.contract, operation.operation_id, lead_id=lead_ids[0])
        params, label = dict(request.query), request.label
        good = run.client.request(request.method, request.path, token=None, params=params, basic=run.target.basic)
        if not declared:
            findings.expect(good.status == 401, "basic_auth", f"{label} accepts Basic, declares Bearer only", good)
            continue
        findings.expect(good.status != 401, "basic_auth", f"{label} refuses valid service credentials", good)
        wrong = (client_id, secret + "-not-it")
        bad = run.client.request(request.method, request.path, token=None, params=params, basic=wrong)
        findings.expect(bad.status == 401, "basic_auth", f"{label} accepts a wrong client secret", bad)
        challenge = bad.headers.get("www-authenticate", "")
        findings.expect("Basic" in challenge, "basic_auth", f"{label}: the 401 does not challenge Basic", bad)
    findings.expect(declared_anywhere, "basic_auth", "no read operation declares HTTP Basic to check it on")
    findings.check()
