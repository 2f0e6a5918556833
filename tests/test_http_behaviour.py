"""The mock's behaviour over HTTP: writes persist, deletions are followed, ingest creates, OUs switch,
lists filter, bad input gets a documented 4xx and never changes state, CORS, admin endpoints."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.api.app import ResponseViolation, create_app
from mock_server.config import MockConfig
from mock_server.leads.seed import DEFAULT_SEED
from mock_server.leads.store import LeadStore
from tests.helpers import DEMO, DEMO_EMEA, OTHER_ORG, FakeClock, bearer, problem

AUTH = bearer(DEMO)


def field_names(response: Any) -> set[str]:
    body = problem(response)
    assert response.status_code == 400
    return {error["name"] for error in body["errors"]}


def test_put_is_what_get_returns(client: FlaskClient, clock: FakeClock) -> None:
    before = client.get("/lead/ld_123", headers=AUTH).get_json()
    clock.advance(minutes=3)
    update = {"owner_name": "Ada Lovelace", "metadata": {"company": "Analytical Engines", "seats": 12}}
    put = client.put("/lead/ld_123", json=update, headers=AUTH)
    assert put.status_code == 200
    got = client.get("/lead/ld_123", headers=AUTH).get_json()
    assert got == put.get_json()
    assert (got["owner_name"], got["metadata"]) == (update["owner_name"], update["metadata"])
    assert got["updated_at"] == "2026-11-26T12:03:00.000Z" > before["updated_at"]
    assert got["created_at"] == before["created_at"]
    assert client.get("/leads/ld_123", headers=AUTH).get_json() == got


def test_put_ignores_read_only_and_unknown_fields_and_refuses_an_empty_body(client: FlaskClient) -> None:
    """Request bodies are open (the docs never say an unknown field is refused): ignored, never stored."""
    before = client.get("/lead/ld_123", headers=AUTH).get_json()
    put = client.put("/lead/ld_123", json={"score": 99, "lead_id": "x", "owner_name": "Ada"}, headers=AUTH)
    assert put.status_code == 200
    assert (put.get_json()["score"], put.get_json()["lead_id"], put.get_json()["owner_name"]) == (75, "ld_123", "Ada")
    assert "x" not in {lead["lead_id"] for lead in client.get("/leads", headers=AUTH).get_json()["leads"]}
    assert before["score"] == 75
    assert field_names(client.put("/lead/ld_123", json={}, headers=AUTH)) == {""}
    client.put("/lead/ld_123", json={"owner_name": "Jane Smith"}, headers=AUTH)
    assert client.get("/lead/ld_123", headers=AUTH).get_json()["owner_name"] == "Jane Smith"


def test_metadata_takes_any_key_and_any_json_value(client: FlaskClient) -> None:
    """The docs give no rule for metadata keys or values (openapi.yaml, LeadMetadata): none is refused."""
    metadata = {"Lead Source": "Web & Co", "nested": {"ok": [1, None]}, "é": 1.5}
    put = client.put("/lead/ld_123", json={"metadata": metadata}, headers=AUTH)
    assert (put.status_code, put.get_json()["metadata"]) == (200, metadata)
    patched = client.patch("/lead/ld_123/metadata", json={"Q&A": True}, headers=AUTH)
    assert patched.get_json()["metadata"] == {**metadata, "Q&A": True}


@pytest.mark.parametrize("media_type", ["application/json", "application/merge-patch+json"])
def test_patch_merges_and_removes_nulls(client: FlaskClient, media_type: str) -> None:
    body = json.dumps({"title": "CMO", "company": None, "employees": 250})
    response = client.patch("/lead/ld_123/metadata", data=body, content_type=media_type, headers=AUTH)
    assert response.status_code == 200
    expected = {"first_name": "Alex", "last_name": "Johnson", "title": "CMO", "employees": 250}
    assert response.get_json()["metadata"] == expected
    assert client.get("/lead/ld_123", headers=AUTH).get_json()["metadata"] == expected


def test_the_deletion_lifecycle(client: FlaskClient, clock: FakeClock) -> None:
    deleted = client.delete("/lead/ld_123", headers=AUTH)
    assert (deleted.status_code, deleted.get_json()) == (
        200,
        {"message": "Lead deletion initiated", "lead_id": "ld_123"},
    )
    for path in ("/lead/ld_123", "/leads/ld_123", "/lead/ld_123/aliases", "/lead/ld_123/score-explain"):
        assert client.get(path, headers=AUTH).status_code == 404, path
    assert client.delete("/lead/ld_123", headers=AUTH).status_code == 404
    assert client.put("/lead/ld_123", json={"owner_name": "x"}, headers=AUTH).status_code == 404
    status = client.get("/lead-deletions/ld_123", headers=AUTH).get_json()
    assert (status["status"], status["completed_at"]) == ("pending", None)
    clock.advance(seconds=5)
    status = client.get("/lead-deletions/ld_123", headers=AUTH).get_json()
    assert (status["status"], status["completed_at"]) == ("completed", "2026-11-26T12:00:05.000Z")
    assert client.get("/lead-deletions/ld_123", headers=bearer(DEMO_EMEA)).status_code == 404
    assert client.get("/lead-deletions/ld_999", headers=AUTH).status_code == 404


def test_ingest_creates_a_lead_that_by_alias_finds_and_scores_it(client: FlaskClient) -> None:
    event = {
        "event_type": "page_view",
        "aliases": [{"alias_kind": "email", "raw_value": "grace@hopper.example"}],
        "metadata": {"path": "/pricing"},
    }
    accepted = client.post("/ingest", json=event, headers=AUTH)
    assert accepted.status_code == 202
    lead_id = accepted.get_json()["lead_id"]
    found = client.get("/lead/by-alias", query_string={"value": "grace@hopper.example"}, headers=AUTH)
    assert found.get_json() == {"lead_id": lead_id, "email": "grace@hopper.example", "metadata": {}}
    lead = client.get(f"/lead/{lead_id}", headers=AUTH).get_json()
    assert lead["score"] == 10
    explain = client.get(f"/lead/{lead_id}/score-explain", headers=AUTH).get_json()
    assert explain["top_drivers"][0]["rule_id"] == "rl_pricing_view"
    by_kind = client.get(
        "/lead/by-alias", query_string={"kind": "phone", "value": "grace@hopper.example"}, headers=AUTH
    )
    assert by_kind.status_code == 404
    assert client.get("/lead/by-alias", headers=AUTH).status_code == 400


def test_ingest_validation_and_limits(client: FlaskClient) -> None:
    both = {"event_type": "x", "lead_id": "ld_123", "aliases": [{"alias_kind": "email", "raw_value": "a@b.c"}]}
    assert problem(client.post("/ingest", json=both, headers=AUTH))["errors"][0]["detail"] == (
        "send exactly one of 'aliases', 'lead_id' or 'alias_kind' and 'alias'"
    )
    assert field_names(client.post("/ingest", json={"lead_id": "ld_123"}, headers=AUTH)) == {"/event_type"}
    bad_time = {"event_type": "x", "lead_id": "ld_123", "timestamp": "yesterday"}
    assert field_names(client.post("/ingest", json=bad_time, headers=AUTH)) == {"/timestamp"}
    big = {"event_type": "x", "lead_id": "ld_123", "metadata": {"blob": "x" * 102_400}}
    too_large = client.post("/ingest", json=big, headers=AUTH)
    assert too_large.status_code == 413
    assert problem(too_large)["type"] == "/problems/payload-too-large"
    assert client.get("/lead/ld_123", headers=AUTH).get_json()["score"] == 75


def test_the_active_ou_cookie_scopes_later_requests(client: FlaskClient) -> None:
    units = client.get("/org-units", headers=AUTH).get_json()["org_units"]
    assert [(unit["unit_id"], unit["is_active"]) for unit in units] == [("unit_default", True), ("unit_emea", False)]
    emea_lead = client.get("/leads", headers=bearer(DEMO_EMEA)).get_json()["leads"][0]["lead_id"]
    assert client.get(f"/lead/{emea_lead}", headers=AUTH).status_code == 404
    chosen = client.post("/org-units/active", json={"ouId": "unit_emea"}, headers=AUTH)
    assert chosen.status_code == 200
    assert chosen.get_json()["is_active"] is True
    cookie = chosen.headers["Set-Cookie"]
    assert cookie.startswith("activeOu=unit_emea;")
    assert "HttpOnly" in cookie
    assert client.get(f"/lead/{emea_lead}", headers=AUTH).status_code == 200  # the client sends the cookie back
    assert client.get("/lead/ld_123", headers=AUTH).status_code == 404
    assert [u["is_active"] for u in client.get("/org-units", headers=AUTH).get_json()["org_units"]] == [False, True]


def test_an_ou_the_token_may_not_use_is_refused_and_a_stale_cookie_falls_back(client: FlaskClient) -> None:
    refused = client.post("/org-units/active", json={"ouId": "unit_default"}, headers=bearer(DEMO_EMEA))
    assert refused.status_code == 404  # the docs list no 403: an OU it may not use is not found, as a lead
    assert problem(refused)["type"] == "/problems/not-found"
    assert client.post("/org-units/active", json={"ouId": "unit_nope"}, headers=AUTH).status_code == 404
    assert client.post("/org-units/active", json={"ouId": "no spaces"}, headers=AUTH).status_code == 404
    client.set_cookie("activeOu", "unit_emea")
    assert client.get("/lead/ld_123", headers=bearer(OTHER_ORG)).status_code == 404  # org_789 has no such lead
    other_units = client.get("/org-units", headers=bearer(OTHER_ORG)).get_json()["org_units"]
    assert [(u["org_id"], u["is_active"]) for u in other_units] == [("org_789", True)]  # its default OU


def test_list_defaults_pagination_and_filters(client: FlaskClient) -> None:
    first = client.get("/leads", headers=AUTH).get_json()
    assert (first["page"], first["limit"], len(first["leads"])) == (1, 25, 25)
    scores = [lead["score"] for lead in first["leads"]]
    assert scores == sorted(scores, reverse=True)
    seen: list[str] = []
    for page in range(1, 5):
        body = client.get("/leads", query_string={"page": page, "limit": 10}, headers=AUTH).get_json()
        assert body["total"] == first["total"]
        seen += [lead["lead_id"] for lead in body["leads"]]
    assert len(seen) == len(set(seen)) == min(40, first["total"])
    past_the_end = client.get("/leads", query_string={"page": 999}, headers=AUTH).get_json()
    assert (past_the_end["leads"], past_the_end["total"]) == ([], first["total"])
    window = client.get("/leads", query_string={"min_score": 50, "max_score": 100, "limit": 100}, headers=AUTH)
    assert all(50 <= lead["score"] <= 100 for lead in window.get_json()["leads"])
    assert window.get_json()["total"] == len(window.get_json()["leads"])
    # No error is documented for it (§9): min_score above max_score selects nothing, an empty page.
    crossed = client.get("/leads?min_score=60&max_score=10", headers=AUTH)
    assert (crossed.status_code, crossed.get_json()["leads"], crossed.get_json()["total"]) == (200, [], 0)
    assert field_names(client.get("/leads?limit=0&page=0&last_active=1d", headers=AUTH)) == {
        "limit",
        "page",
        "last_active",
    }
    # The docs give /leads no maximum limit or page: the mock serves 100 at most (mock_server.limits) and
    # says so in the envelope; a page far past the end is an empty page, even beyond 64 bits.
    capped = client.get("/leads?limit=5000", headers=AUTH).get_json()
    assert (capped["limit"], len(capped["leads"])) == (100, min(100, capped["total"]))
    far = client.get(f"/leads?page={2**70}", headers=AUTH)
    assert (far.status_code, far.get_json()["leads"], far.get_json()["page"]) == (200, [], 2**70)
    assert len(client.get("/top-leads?limit=5000", headers=AUTH).get_json()["leads"]) <= 100
    assert client.get("/leads?limit=25.0", headers=AUTH).status_code == 200  # 3.1: an integral number is an integer
    assert field_names(client.get("/leads?limit=2.5", headers=AUTH)) == {"limit"}
    assert field_names(client.get("/leads?limit=1&limit=2", headers=AUTH)) == {"limit"}


def test_score_history_windows(client: FlaskClient) -> None:
    url = "/lead/ld_score_reset/score-history"
    week = client.get(url, query_string={"days": 7, "ruleset_id": "ruleset_default"}, headers=AUTH).get_json()
    assert week["period"] == {"start": "2026-11-19T12:00:00Z", "end": "2026-11-26T12:00:00Z"}
    assert week["count"] == len(week["snapshots"]) == 7 * 24 + 1
    dates = {"start_date": "2026-11-25T00:00:00+01:00", "end_date": "2026-11-25T05:30:00Z"}
    absolute = client.get(url, query_string={**dates, "ruleset_id": "ruleset_product"}, headers=AUTH).get_json()
    assert absolute["period"] == {"start": "2026-11-24T23:00:00Z", "end": "2026-11-25T05:30:00Z"}
    assert [s["snapshot_at"][11:13] for s in absolute["snapshots"]] == ["23", "00", "01", "02", "03", "04", "05"]
    # The dates take precedence over days (issue 18: a client filling in days=30 beside them is not refused).
    beside = client.get(url, query_string={**dates, "days": 3, "ruleset_id": "ruleset_product"}, headers=AUTH)
    assert beside.get_json() == absolute
    # A window that ends before it starts holds no snapshot: a 200 with none (no error is documented).
    reversed_dates = {"start_date": dates["end_date"], "end_date": "2026-11-25T00:00:00Z"}
    future = {"start_date": "2026-11-26T12:00:01Z"}  # with no end_date the window ends now (the fake clock)
    for empty in (reversed_dates, future):
        answer = client.get(url, query_string=empty, headers=AUTH)
        assert (answer.status_code, answer.get_json()["snapshots"], answer.get_json()["count"]) == (200, [], 0)
    edge = client.get(url, query_string={"end_date": "0001-01-01T00:00:00Z"}, headers=AUTH)
    assert edge.status_code == 200, edge.get_json()  # the default window is clamped at the calendar's start
    assert field_names(client.get(url, query_string={"days": 91, "end_date": "nope"}, headers=AUTH)) == {
        "days",
        "end_date",
    }
    only_end = client.get(url, query_string={"end_date": "2026-11-20T00:00:00Z"}, headers=AUTH).get_json()
    assert only_end["period"]["start"] == "2026-10-21T00:00:00Z"  # the default 30 days before it


def test_score_explain_hours(client: FlaskClient) -> None:
    assert client.get("/lead/ld_123/score-explain", headers=AUTH).get_json()["range_hours"] == 24
    assert client.get("/lead/ld_123/score-explain?hours=720", headers=AUTH).get_json()["range_hours"] == 720
    # The docs bound `hours` neither way: the mock clamps it, and range_hours is the window it used.
    for asked, used in ((0, 1), (-5, 1), (721, 720), (10**12, 720)):
        answer = client.get(f"/lead/ld_123/score-explain?hours={asked}", headers=AUTH)
        assert (answer.status_code, answer.get_json()["range_hours"]) == (200, used)
    assert field_names(client.get("/lead/ld_123/score-explain?hours=1.5", headers=AUTH)) == {"hours"}


def test_media_types_sizes_and_broken_json(client: FlaskClient, app: Flask) -> None:
    text = client.put("/lead/ld_123", data="owner_name=x", content_type="text/plain", headers=AUTH)
    assert (text.status_code, problem(text)["type"]) == (415, "/problems/unsupported-media-type")
    assert client.put("/lead/ld_123", data='{"owner_name": "x"}', headers=AUTH).status_code == 415  # no type
    broken = client.put("/lead/ld_123", data='{"owner_name": ', content_type="application/json", headers=AUTH)
    assert field_names(broken) == {""}
    nan = client.put("/lead/ld_123", data='{"metadata": {"x": NaN}}', content_type="application/json", headers=AUTH)
    assert nan.status_code == 400
    empty = client.put("/lead/ld_123", data=b"", content_type="application/json", headers=AUTH)
    assert field_names(empty) == {""}
    huge = client.put(
        "/lead/ld_123", data=b"[" + b"1," * 600_000 + b"1]", content_type="application/json", headers=AUTH
    )
    assert (huge.status_code, problem(huge)["type"]) == (413, "/problems/payload-too-large")
    assert client.get("/lead/ld_123", headers=AUTH).get_json()["owner_name"] == "Jane Smith"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from(
        [
            ("PUT", "/lead/ld_123"),
            ("PATCH", "/lead/ld_123/metadata"),
            ("POST", "/ingest"),
            ("POST", "/org-units/active"),
        ]
    ),
    content_type=st.sampled_from(["application/json", "application/merge-patch+json", "text/plain", "", "a/b; c=d"]),
    payload=st.binary(max_size=64)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
        max_leaves=8,
    ).map(lambda value: json.dumps(value).encode()),
)
def test_garbage_never_gets_a_500_and_never_changes_state(
    client: FlaskClient, target: tuple[str, str], content_type: str, payload: bytes
) -> None:
    before = client.get("/lead/ld_123", headers=AUTH).get_json()
    method, path = target
    response = client.open(path, method=method, data=payload, content_type=content_type or None, headers=AUTH)
    if response.status_code < 300:  # some random JSON is a valid request: that is fine, state may change
        client.put(
            "/lead/ld_123", json={"owner_name": before["owner_name"], "metadata": before["metadata"]}, headers=AUTH
        )
        return
    assert response.status_code in {400, 404, 409, 413, 415}, response.data
    assert response.mimetype == "application/problem+json"
    after = client.get("/lead/ld_123", headers=AUTH).get_json()
    assert after == before


def test_cors_preflight_and_credentials_for_a_local_front_end(client: FlaskClient) -> None:
    origin = "http://localhost:5173"
    preflight = client.options(
        "/lead/ld_123",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    actual = client.get("/lead/ld_123", headers={**AUTH, "Origin": origin})
    assert actual.headers["Access-Control-Allow-Origin"] == origin
    stranger = client.get("/lead/ld_123", headers={**AUTH, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_allowed_origins_are_configurable(clock: FakeClock) -> None:
    client = create_app(MockConfig(clock=clock, cors_origins=("https://app.example",))).test_client()
    allowed = client.get("/lead/ld_123", headers={**AUTH, "Origin": "https://app.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    local = client.get("/lead/ld_123", headers={**AUTH, "Origin": "http://localhost:3000"})
    assert "Access-Control-Allow-Origin" not in local.headers


def test_admin_reset_health_and_spec(client: FlaskClient) -> None:
    client.delete("/lead/ld_123", headers=AUTH)
    assert client.get("/_mock/health").get_json()["status"] == "ok"
    assert client.post("/_mock/reset").status_code == 204
    assert client.get("/lead/ld_123", headers=AUTH).get_json()["score"] == 75
    assert client.get("/lead-deletions/ld_123", headers=AUTH).status_code == 404
    assert client.get("/openapi.yaml").data.startswith(b"openapi: 3.1.0")


def test_concurrent_requests_lose_no_acknowledged_update(app: Flask) -> None:
    """Eight clients at once: every acknowledged PATCH and ingest is there afterwards."""
    workers, rounds = 8, 20
    barrier = threading.Barrier(workers)
    acknowledged: list[str] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        client = app.test_client()
        barrier.wait()
        for index in range(rounds):
            patched = client.patch("/lead/ld_123/metadata", json={f"w{worker}_{index % 10}": index}, headers=AUTH)
            ingested = client.post("/ingest", json={"event_type": "email_open", "lead_id": "ld_123"}, headers=AUTH)
            assert (patched.status_code, ingested.status_code) == (200, 202)
            with lock:
                acknowledged.append(f"w{worker}_{index % 10}")

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lead = app.test_client().get("/lead/ld_123", headers=AUTH).get_json()
    assert set(acknowledged) <= set(lead["metadata"])
    assert lead["score"] == 75 + workers * rounds  # one point per email_open, none lost


def test_numbers_beyond_64_bits_and_unicode_round_trip(client: FlaskClient) -> None:
    metadata = {"big": 10**30, "tiny": 1e-300, "name": "Zoë Ünal", "flag": False}
    assert client.put("/lead/ld_123", json={"metadata": metadata}, headers=AUTH).status_code == 200
    assert client.get("/lead/ld_123", headers=AUTH).get_json()["metadata"] == metadata


def test_reset_re_reads_a_changed_seed_and_a_broken_one_changes_nothing(tmp_path: Path, clock: FakeClock) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(DEFAULT_SEED.read_text(encoding="utf-8"), encoding="utf-8")
    client = create_app(MockConfig(clock=clock, seed_path=seed)).test_client()
    seed.write_text(seed.read_text(encoding="utf-8").replace("owner_name: Jane Smith", "owner_name: Grace Hopper", 1))
    assert client.post("/_mock/reset").status_code == 204
    assert client.get("/lead/ld_123", headers=AUTH).get_json()["owner_name"] == "Grace Hopper"
    client.delete("/lead/ld_123", headers=AUTH)
    seed.write_text("orgs: [", encoding="utf-8")
    broken = client.post("/_mock/reset")
    assert (broken.status_code, problem(broken)["type"]) == (400, "/problems/invalid-seed")
    assert client.get("/lead/ld_123", headers=AUTH).status_code == 404  # the state was left as it was


def test_a_response_that_breaks_the_spec_fails_the_test_with_the_violation(config: MockConfig) -> None:
    """With response validation on, drift in the mock is the violation itself, never a generic 500."""

    class Drifting(LeadStore):
        def get_lead(self, scope: Any, lead_id: str) -> dict[str, Any]:
            return {**super().get_lead(scope, lead_id), "score": "75"}

    app = create_app(replace(config, store_class=Drifting))
    app.config["TESTING"] = True
    with pytest.raises(ResponseViolation, match=r"GET /lead/\{leadID\} 200 violates openapi.yaml: .* at /score"):
        app.test_client().get("/lead/ld_123", headers=bearer(DEMO))
    app.config["TESTING"] = False  # a served mock answers a problem document and logs the violation
    served = app.test_client().get("/lead/ld_123", headers=bearer(DEMO))
    assert problem(served)["status"] == 500
