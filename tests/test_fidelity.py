"""What the LeadVibe docs state, shown on the mock: one test per contradiction the spec resolved (issue 8),
both authentication schemes, the active OU, and the lead endpoints added from complete doc pages."""

from __future__ import annotations

import base64
import json

import pytest
from flask.testing import FlaskClient

from leadvibe_contract.contract import load_contract
from leadvibe_contract.examples import example_request
from mock_server.leads.scoring import Ruleset
from mock_server.leads.seed import DEFAULT_SEED, load_seed
from mock_server.leads.store import LeadRecord, LeadStore
from tests.helpers import DEMO, bearer, problem, send

SPEC = load_contract()
NO_DEFAULT = "kbn_pat_demo_nodefault"
SERVICE = ("lv_ci_demo", "lv_cs_demo")  # tied to unit_default
SERVICE_EMEA = ("lv_ci_demo_emea", "lv_cs_demo_emea")


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def accepts_basic(operation_id: str) -> bool:
    security = SPEC.operations[operation_id].raw.get("security", SPEC.document["security"])
    return {"basicAuth": []} in security


def needs_active_ou(operation_id: str) -> bool:
    return any(p.location == "cookie" and p.name == "activeOu" for p in SPEC.operations[operation_id].parameters)


# -- §9 list items carry the documented scoring fields ------------------------------------------------------


def test_list_items_carry_the_documented_score_breakdown(client: FlaskClient) -> None:
    page = client.get("/leads", query_string={"limit": 100}, headers=bearer(DEMO)).get_json()
    lead = next(item for item in page["leads"] if item["lead_id"] == "ld_123")
    assert lead["ruleset_id"] == "ruleset_default"
    assert lead["engagement_scores"]["ruleset_default"] == lead["score"] == 75
    assert set(lead["profile_scores"]) == {"ruleset_fit"}
    assert lead["ruleset_names"]["ruleset_fit"] == lead["profile_primary_ruleset_name"] == "Profile - Fit A"
    assert lead["engagement_primary_ruleset_name"] == "Engagement - Standard"
    # GET /lead/{id} stays the page's eight fields; the list item is that lead plus the breakdown.
    single = client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()
    assert {key: lead[key] for key in single} == single


def test_a_lead_without_events_has_an_empty_ruleset_id_and_empty_scores(store: LeadStore) -> None:
    moment = store.now()
    lead = LeadRecord("ld_new", "org_456", "unit_default", moment, moment, None, {})
    rulesets = mock_state_rulesets(store)
    assert lead.breakdown(rulesets) == {"ruleset_id": "", "engagement_scores": {}, "profile_scores": {}}


def mock_state_rulesets(store: LeadStore) -> tuple[Ruleset, ...]:
    return store._rulesets


# -- §1.2 service-account credentials over HTTP Basic, where documented --------------------------------------


@pytest.mark.parametrize("operation_id", sorted(SPEC.operations))
def test_basic_credentials_work_exactly_where_the_spec_declares_them(client: FlaskClient, operation_id: str) -> None:
    request = example_request(SPEC, operation_id)
    # The example makes unit_emea active: a service account may make only its own OU active.
    response = send(client, request, basic(*(SERVICE_EMEA if operation_id == "setActiveOrgUnit" else SERVICE)))
    if accepts_basic(operation_id):  # served (the deletion status of a lead never deleted is a 404)
        assert response.status_code in (200, 202, 404 if operation_id == "getLeadDeletionStatus" else 200)
    else:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
        assert "Basic" not in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("operation_id", sorted(op for op in SPEC.operations if accepts_basic(op)))
@pytest.mark.parametrize("credentials", [("lv_ci_demo", "wrong"), ("nobody", "lv_cs_demo")])
def test_wrong_basic_credentials_are_a_401_challenging_both_schemes(
    client: FlaskClient, operation_id: str, credentials: tuple[str, str]
) -> None:
    response = send(client, example_request(SPEC, operation_id), basic(*credentials))
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'Basic realm="leadvibe"' in challenge
    assert problem(response)["type"] == "/problems/unauthorized"
    # The refusal speaks of the Basic credentials sent, not of a malformed access token.
    assert "invalid_token" not in challenge
    assert "HTTP Basic" in problem(response)["detail"]


def test_every_operation_takes_basic_credentials() -> None:
    """The docs say API clients can also use HTTP Basic and give no per-endpoint table (§1.2)."""
    assert all(accepts_basic(operation_id) for operation_id in SPEC.operations)


def test_a_service_account_is_tied_to_its_ou(client: FlaskClient) -> None:
    body = {"event_type": "demo_request", "aliases": [{"alias_kind": "email", "raw_value": "svc@lead.example"}]}
    created = client.post("/ingest", json=body, headers=basic(*SERVICE_EMEA)).get_json()["lead_id"]
    query = {"value": "svc@lead.example"}
    assert client.get("/lead/by-alias", query_string=query, headers=basic(*SERVICE_EMEA)).status_code == 200
    assert client.get("/lead/by-alias", query_string=query, headers=basic(*SERVICE)).status_code == 404
    assert client.get(f"/lead/{created}", headers=bearer("kbn_pat_demo_emea")).status_code == 200
    switch = client.post("/org-units/active", json={"ouId": "unit_default"}, headers=basic(*SERVICE_EMEA))
    assert switch.status_code == 404  # not its OU: not found (the docs list no 403)


# -- §1.3 the active OU: "Active OU must be set" ------------------------------------------------------------


@pytest.mark.parametrize("operation_id", sorted(SPEC.operations))
def test_without_an_active_ou_lead_operations_are_the_documented_400(client: FlaskClient, operation_id: str) -> None:
    response = send(client, example_request(SPEC, operation_id), bearer(NO_DEFAULT))
    if needs_active_ou(operation_id):
        assert response.status_code == 400
        body = problem(response)
        assert (body["type"], body["detail"]) == ("/problems/active-ou-required", "Active OU must be set.")
        assert body["errors"][0]["in"] == "cookie"
        assert body["errors"][0]["name"] == "activeOu"
    else:
        assert response.status_code < 300


def test_choosing_an_ou_lifts_the_400(client: FlaskClient) -> None:
    assert client.post("/org-units/active", json={"ouId": "unit_emea"}, headers=bearer(NO_DEFAULT)).status_code == 200
    assert client.get("/leads", headers=bearer(NO_DEFAULT)).status_code == 200
    client.delete_cookie("activeOu")
    assert client.get("/leads", headers=bearer(NO_DEFAULT)).status_code == 400


def test_a_malformed_active_ou_cookie_counts_as_no_cookie(client: FlaskClient) -> None:
    client.set_cookie("activeOu", "not an id!")
    assert client.get("/leads", headers=bearer(DEMO)).status_code == 200
    assert client.get("/leads", headers=bearer(NO_DEFAULT)).status_code == 400


# -- §11 / §14.6 the deprecated top-level alias is still accepted -------------------------------------------


@pytest.mark.parametrize("form", ["aliases", "legacy"])
def test_ingest_accepts_both_alias_forms(client: FlaskClient, form: str) -> None:
    value = f"{form}@forms.example"
    if form == "aliases":
        body = {"event_type": "demo_request", "aliases": [{"alias_kind": "email", "raw_value": value}]}
    else:
        body = {"event_type": "demo_request", "alias_kind": "email", "alias": value}
    accepted = client.post("/ingest", json=body, headers=bearer(DEMO))
    assert accepted.status_code == 202
    found = client.get("/lead/by-alias", query_string={"value": value}, headers=bearer(DEMO)).get_json()
    assert found["lead_id"] == accepted.get_json()["lead_id"]
    aliases = client.get(f"/lead/{found['lead_id']}/aliases", headers=bearer(DEMO)).get_json()["aliases"]
    assert [(a["kind"], a["value"]) for a in aliases] == [("email", value)]


ALIAS = {"alias_kind": "email", "raw_value": "c@d.example", "label": "work"}  # `label`: unknown, ignored


@pytest.mark.parametrize(
    "body",
    [
        {"event_type": "x", "alias": "a@b.example"},  # both legacy fields are needed
        {"event_type": "x", "alias_kind": "email", "alias": "a@b.example", "lead_id": "ld_123"},
        {"event_type": "x", "alias_kind": "email", "alias": "a@b.example", "aliases": [ALIAS]},
    ],
)
def test_mixing_or_halving_the_forms_is_a_400(client: FlaskClient, body: dict[str, object]) -> None:
    assert client.post("/ingest", json=body, headers=bearer(DEMO)).status_code == 400


@pytest.mark.parametrize(
    "extra",
    [{"session_id": "s-1"}, {"alias": "a@b.example"}, {"aliases": "not a list"}, {"alias_kind": "email"}],
)
def test_ingest_ignores_fields_its_form_does_not_declare(client: FlaskClient, extra: dict[str, object]) -> None:
    """Request bodies are open (openapi.yaml, info.x-decisions): an extra field, even one named like a
    field of another form, is ignored; the event goes to the lead its own form names."""
    body = {"event_type": "x", "lead_id": "ld_123", **extra}
    accepted = client.post("/ingest", json=body, headers=bearer(DEMO))
    assert (accepted.status_code, accepted.get_json()["lead_id"]) == (202, "ld_123")
    aliases = client.get("/lead/ld_123/aliases", headers=bearer(DEMO)).get_json()["aliases"]
    assert "a@b.example" not in {alias["value"] for alias in aliases}


def test_the_legacy_form_is_marked_deprecated_in_the_spec() -> None:
    legacy = SPEC.schema("IngestEventByLegacyAlias")
    assert legacy["deprecated"] is True
    assert legacy["properties"]["alias"] == {"$ref": "#/components/schemas/AliasValue", "deprecated": True}


# -- §15 scores: negatives can be enabled; snapshot ruleset_id optional; drivers by absolute contribution ----


def test_the_contract_admits_negative_scores_and_snapshots_without_a_ruleset() -> None:
    lead = dict(SPEC.document["components"]["examples"]["LeadJaneSmith"]["value"])
    validator = SPEC.operations["getLead"].responses[200]
    assert validator is not None
    assert validator.is_valid({**lead, "score": -12})
    history = SPEC.operations["getScoreHistory"].responses[200]
    snapshot = {"snapshot_at": "2025-01-15T10:00:00Z", "score": 45}
    body = {
        "lead_id": "ld_123",
        "snapshots": [snapshot],
        "count": 1,
        "period": {"start": "2025-01-15T10:00:00Z", "end": "2025-01-15T11:00:00Z"},
    }
    assert history is not None
    assert history.is_valid(body)


def test_explain_drivers_span_the_active_rulesets_by_absolute_contribution(client: FlaskClient) -> None:
    body = {"event_type": "demo_request", "aliases": [{"alias_kind": "email", "raw_value": "drv@lead.example"}]}
    lead_id = client.post("/ingest", json=body, headers=bearer(DEMO)).get_json()["lead_id"]
    explain = client.get(f"/lead/{lead_id}/score-explain", headers=bearer(DEMO)).get_json()
    assert [(d["rule_id"], d["total"]) for d in explain["top_drivers"]] == [
        ("rl_demo_request", 25),
        ("rl_fit_demo", 20),
    ]
    weights = {item["event_type"]: item["weight"] for item in explain["snapshot"]}
    assert weights["demo_request"] == 45  # both rulesets' weights
    assert [abs(w["weight"]) for w in explain["snapshot"]] == sorted(
        (abs(w["weight"]) for w in explain["snapshot"]), reverse=True
    )


# -- §9 pagination metadata ----------------------------------------------------------------------------------


def test_the_mock_sends_pagination_metadata_even_without_page_or_limit(client: FlaskClient) -> None:
    body = client.get("/leads", headers=bearer(DEMO)).get_json()
    assert {"total", "page", "limit"} <= set(body)
    assert "total" not in SPEC.schema("LeadPage")["required"]  # a deployment may leave it out (docs §9)


# -- §5.1 by-alias `email` is the email alias that matched ---------------------------------------------------


def test_by_alias_email_is_the_alias_that_matched(client: FlaskClient) -> None:
    values = ("first@two.example", "second@two.example")
    body = {"event_type": "page_view", "aliases": [{"alias_kind": "email", "raw_value": value} for value in values]}
    client.post("/ingest", json=body, headers=bearer(DEMO))
    for value in values:
        found = client.get("/lead/by-alias", query_string={"value": value}, headers=bearer(DEMO)).get_json()
        assert found["email"] == value


# -- §6, §9.1, §10, §13.1 the added endpoints ---------------------------------------------------------------


def test_score_endpoints_agree_with_the_lead(client: FlaskClient) -> None:
    lead = client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()
    score = client.get("/score/ld_123", headers=bearer(DEMO)).get_json()
    assert score == client.get("/leads/ld_123/score", headers=bearer(DEMO)).get_json()
    assert score["score"] == lead["score"] == score["engagement_scores"][score["ruleset_id"]]


def test_an_ingested_event_is_the_newest_of_the_leads_events(client: FlaskClient) -> None:
    before = client.get("/events/ld_123", headers=bearer(DEMO)).get_json()
    accepted = client.post("/ingest", json={"event_type": "email_click", "lead_id": "ld_123"}, headers=bearer(DEMO))
    after = client.get("/events/ld_123", query_string={"limit": 1}, headers=bearer(DEMO)).get_json()
    assert after["total"] == before["total"] + 1
    assert after["events"][0]["id"] == accepted.get_json()["event_id"]
    only = client.get("/events/ld_123", query_string={"event_type": "email_click"}, headers=bearer(DEMO)).get_json()
    assert {event["event_type"] for event in only["events"]} == {"email_click"}
    assert client.get("/events/ld_123", query_string={"limit": 101}, headers=bearer(DEMO)).status_code == 400


def test_top_leads_are_the_first_page_of_the_list(client: FlaskClient) -> None:
    top = client.get("/top-leads", query_string={"limit": 5}, headers=bearer(DEMO)).get_json()["leads"]
    listed = client.get("/leads", query_string={"limit": 5}, headers=bearer(DEMO)).get_json()["leads"]
    assert [(t["lead_id"], t["score"], t["last_event_at"]) for t in top] == [
        (item["lead_id"], item["score"], item["last_event_at"]) for item in listed
    ]
    assert len(client.get("/top-leads", headers=bearer(DEMO)).get_json()["leads"]) == 10


def test_score_gains_are_recent_and_largest_first(client: FlaskClient) -> None:
    gains = client.get("/score-gains", query_string={"limit": 100}, headers=bearer(DEMO)).get_json()["leads"]
    assert gains
    assert [g["score_gain"] for g in gains] == sorted((g["score_gain"] for g in gains), reverse=True)
    assert "ld_123" not in {g["lead_id"] for g in gains}  # no activity in the last 7 days
    for gain in gains[:5]:
        assert gain["score"] == client.get(f"/lead/{gain['lead_id']}", headers=bearer(DEMO)).get_json()["score"]


def test_an_owner_set_by_post_is_what_get_returns(client: FlaskClient) -> None:
    before = client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()
    assigned = client.post(
        "/leads/ld_123/owner", json={"owner_id": "usr_ada", "owner_name": "Ada"}, headers=bearer(DEMO)
    )
    assert assigned.get_json() == {"status": "ok", "message": "owner assigned"}
    after = client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()
    assert after["owner_name"] == "Ada"
    assert after["updated_at"] > before["updated_at"]
    unassigned = client.post("/leads/ld_123/owner", json={"owner_id": None}, headers=bearer(DEMO))
    assert unassigned.get_json() == {"status": "ok", "message": "owner unassigned"}
    assert client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()["owner_name"] is None
    # Docs §13.1: without an owner_id it unassigns (an owner_name alone, or unknown fields, included).
    for body in ({"owner_name": "Grace"}, {"owner": "x"}):
        answer = client.post("/leads/ld_123/owner", json=body, headers=bearer(DEMO)).get_json()
        assert answer == {"status": "ok", "message": "owner unassigned"}
    # An owner_id alone assigns, and GET shows an owner (its id, the only name the mock knows).
    client.post("/leads/ld_123/owner", json={"owner_id": "user@example.com"}, headers=bearer(DEMO))
    assert client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()["owner_name"] == "user@example.com"


def test_the_owner_write_is_confined_by_the_live_gate_automatically() -> None:
    plan = SPEC.operations["setLeadOwner"].write
    assert plan is not None
    assert plan.allowed


@pytest.mark.parametrize(
    "metadata",
    [
        {"path": "/about", "utm_source": "google"},
        {"page": {"path": "/pricing", "tags": ["a", {"b": None}]}, "n": 2**70, "ratio": 0.5, "ok": True},
        {},
    ],
    ids=["flat", "nested-and-big", "empty"],
)
def test_ingested_event_metadata_comes_back_as_sent(client: FlaskClient, metadata: dict[str, object]) -> None:
    """Issue #18 item 12: GET /events/{leadID} answered the rule substrings the store keeps for scoring."""
    sent = {"event_type": "page_view", "lead_id": "ld_123", "metadata": metadata}
    accepted = client.post("/ingest", json=sent, headers=bearer(DEMO))
    assert accepted.status_code == 202
    newest = client.get("/events/ld_123", query_string={"limit": 1}, headers=bearer(DEMO)).get_json()["events"][0]
    assert (newest["id"], newest["metadata"]) == (accepted.get_json()["event_id"], metadata)


def test_a_browser_jwt_is_a_bearer_token_like_a_pat(client: FlaskClient) -> None:
    """Docs §1.2: browser and SPA clients send a JWT Bearer token; the seed's demo JWT is the demo user."""
    jwt = next(token.token for token in load_seed(DEFAULT_SEED, load_contract()).tokens if token.token.count(".") == 2)
    assert (
        client.get("/lead/ld_123", headers=bearer(jwt)).get_json()
        == client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()
    )
    assert client.get("/lead/ld_123", headers=bearer(jwt + "x")).status_code == 401


def test_events_say_why_they_were_not_scored_and_decay_is_a_system_event(client: FlaskClient) -> None:
    """Docs §10 (newer copy): suppression_reason and original_lead_id on events; §11.1: for DECAY events
    the server sets metadata.channel = "system", whatever was sent."""
    events = client.get("/events/ld_bot_burst", query_string={"limit": 100}, headers=bearer(DEMO)).get_json()["events"]
    assert {event["suppression_reason"] for event in events} == {None, "inorganic"}
    assert {event["original_lead_id"] for event in events} == {None}
    sent = {"event_type": "DECAY", "lead_id": "ld_123", "metadata": {"channel": "web", "note": "x"}}
    assert client.post("/ingest", json=sent, headers=bearer(DEMO)).status_code == 202
    newest = client.get("/events/ld_123", query_string={"limit": 1}, headers=bearer(DEMO)).get_json()["events"][0]
    assert (newest["event_type"], newest["metadata"]) == ("DECAY", {"channel": "system", "note": "x"})


@pytest.mark.parametrize(
    ("event_type", "metadata", "valid"),
    [
        ("DECAY", {"channel": "system"}, True),
        ("DECAY", {"channel": "web"}, False),
        ("DECAY", {}, False),
        ("page_view", {"channel": "web"}, True),
    ],
)
def test_the_spec_holds_any_deployment_to_decay_being_a_system_event(
    event_type: str, metadata: dict[str, str], valid: bool
) -> None:
    event = {
        "id": "e1",
        "lead_id": "l1",
        "event_type": event_type,
        "metadata": metadata,
        "created_at": "2025-01-01T00:00:00Z",
    }
    assert load_contract().component_validator("LeadEvent").is_valid(event) is valid


def test_a_metadata_value_beyond_any_float_comes_back_whole(client: FlaskClient) -> None:
    """An integer of 400 digits in metadata: orjson cannot write it and reads it as an infinite double."""
    huge = 10**400 + 7
    patched = client.patch("/lead/ld_123/metadata", json={"huge": huge}, headers=bearer(DEMO))
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert json.loads(client.get("/lead/ld_123", headers=bearer(DEMO)).get_data())["metadata"]["huge"] == huge
