"""Regression tests of issue #10, one per reproducer, in-process: hostile input is a 4xx problem, cheap,
and changes nothing."""

from __future__ import annotations

import dataclasses
import io
import json
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from leadvibe_contract.contract import Contract
from mock_server.api.auth import Scope
from mock_server.leads.errors import LimitReached
from mock_server.leads.store import IngestRequest, LeadQuery, LeadStore
from mock_server.leads.timeutil import format_timestamp
from mock_server.limits import LIMITS
from mock_server.tools.journal import Journal
from tests.helpers import DEMO, FakeClock, bearer, problem

AUTH = bearer(DEMO)
DEFAULT = Scope("org_456", "unit_default")


def _send(client: FlaskClient, method: str, path: str, body: str | bytes) -> Any:
    return client.open(path, method=method, headers=AUTH, data=body, content_type="application/json")


@pytest.mark.parametrize(
    ("method", "path", "wrap"), [("PUT", "/lead/ld_123", True), ("PATCH", "/lead/ld_123/metadata", False)]
)
@pytest.mark.parametrize("keys", [3_000, 60_000])
def test_more_metadata_keys_than_the_mock_holds_are_a_409_that_costs_little(
    client: FlaskClient, method: str, path: str, wrap: bool, keys: int
) -> None:
    metadata = {f"{index}x": 1 for index in range(keys)}
    body = json.dumps({"metadata": metadata} if wrap else metadata)
    before = client.get("/lead/ld_123", headers=AUTH).get_json()
    tracemalloc.start()
    started = time.thread_time()  # CPU time of this thread: a busy machine does not count
    response = _send(client, method, path, body)
    elapsed = time.thread_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Past max_json_values (a key and its value are two), the walk refuses the body before any count of keys.
    refused = (409, "metadata-full") if 2 * keys < LIMITS.max_json_values else (413, "payload-too-large")
    assert (response.status_code, problem(response)["type"]) == (refused[0], f"/problems/{refused[1]}")
    assert elapsed < 2.0  # was 7.7 s for 3,000 keys
    assert peak < 20 * len(body) + 8_000_000  # was 1.5 GB for 3,000 keys
    assert client.get("/lead/ld_123", headers=AUTH).get_json() == before


@pytest.mark.parametrize(
    ("method", "path", "body", "pointer"),
    [
        ("PUT", "/lead/ld_123", '{"owner_name":"\\ud800"}', "/owner_name"),
        ("PATCH", "/lead/ld_123/metadata", '{"title":"x\\udfff"}', "/title"),
        ("PATCH", "/lead/ld_123/metadata", '{"ti\\udfffe":"x"}', "/ti\\udfffe"),
        (
            "POST",
            "/ingest",
            '{"event_type":"a","aliases":[{"alias_kind":"cookie","raw_value":"c_\\ud800"}]}',
            "/aliases/0/raw_value",
        ),
        ("POST", "/ingest", '{"event_type":"a","lead_id":"ld_123","metadata":{"k":["\\udc00"]}}', "/metadata/k/0"),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_the_field_and_nothing_is_stored(
    client: FlaskClient, store: LeadStore, method: str, path: str, body: str, pointer: str
) -> None:
    before = store.list_leads(DEFAULT, LeadQuery(limit=100))
    response = _send(client, method, path, body)
    assert response.status_code == 400
    assert problem(response)["errors"][0]["name"] == pointer
    assert store.list_leads(DEFAULT, LeadQuery(limit=100)) == before
    for read in ("/lead/ld_123", "/leads", "/lead/ld_123/aliases"):
        assert client.get(read, headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/lead/%ED%A0%80",
        "/lead/by-alias?kind=email&value=%ED%A0%80",
        "/leads?event_type=%ED%A0%80",
        "/leads?page=1&event_type=Q%26A+%ED%A0",
    ],
)
def test_undecodable_bytes_in_the_path_or_query_are_a_4xx_problem(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers=AUTH)
    assert 400 <= response.status_code < 500
    problem(response)


@pytest.mark.parametrize("depth", [33, 256, 985, 5_000])
def test_deep_nesting_is_a_400_naming_the_body(client: FlaskClient, depth: int) -> None:
    body = '{"metadata":' + "[" * depth + "]" * depth + "}"
    for method, path in (("PUT", "/lead/ld_123"), ("POST", "/ingest")):
        response = _send(client, method, path, body)
        assert response.status_code == 400
        assert problem(response)["errors"][0]["in"] == "body"


@pytest.mark.parametrize(
    "query",
    [
        "end_date=0001-01-01T00:00:00Z",
        "start_date=0001-01-01T00:00:00Z",
        "start_date=0001-01-01T00:00:00%2B14:00",
        "end_date=9999-12-31T23:59:59Z",
        "end_date=9999-12-31T23:59:59-14:00",
        "start_date=0001-01-01T00:00:00Z&end_date=9999-12-31T23:59:59.999999Z",
        "start_date=9999-12-31T23:59:59Z",
        "end_date=0000-01-01T00:00:00Z",
    ],
)
def test_calendar_edges_of_score_history_are_a_400_or_a_window(client: FlaskClient, query: str) -> None:
    response = client.get(f"/lead/ld_123/score-history?{query}", headers=AUTH)
    assert response.status_code in (200, 400), response.data
    if response.status_code == 400:
        problem(response)


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_calendar_edges_of_ingest_timestamps_keep_every_read_working(client: FlaskClient, stamp: str) -> None:
    response = _send(
        client, "POST", "/ingest", json.dumps({"event_type": "page_view", "lead_id": "ld_123", "timestamp": stamp})
    )
    assert response.status_code == 202
    for read in (
        "/lead/ld_123",
        "/lead/ld_123/score-history?days=90",
        "/lead/ld_123/score-explain?hours=720",
        "/leads",
    ):
        assert client.get(read, headers=AUTH).status_code == 200


def test_a_slash_merge_is_a_404_problem_and_never_a_redirect(client: FlaskClient) -> None:
    response = client.get("/lead//ld_123", headers={**AUTH, "Host": "evil.example"})
    assert response.status_code == 404
    assert "Location" not in response.headers
    problem(response)


def test_server_written_timestamps_always_carry_milliseconds(client: FlaskClient, clock: FakeClock) -> None:
    stamps = []
    for step in range(4):  # whole seconds, then fractions: the same width every time
        clock.advance(milliseconds=999 if step % 2 else 1)
        stamps.append(_send(client, "PUT", "/lead/ld_123", '{"owner_name":"A"}').get_json()["updated_at"])
    assert all(len(stamp) == len("2026-11-26T12:00:00.000Z") for stamp in stamps), stamps
    assert stamps == sorted(stamps)
    assert format_timestamp(datetime(2026, 1, 1, tzinfo=UTC), written=True) == "2026-01-01T00:00:00.000Z"


# -- memory bounds (the spec's limits, made small here by replacing the store's limits) ---------------


def _limited(store: LeadStore, **limits: Any) -> None:
    store._limits = dataclasses.replace(store._limits, **limits)


def test_the_limits_are_the_mocks_own_configuration_not_the_spec(spec: Contract, store: LeadStore) -> None:
    """The docs state no such limit (issue 18): they live in mock_server.limits, not in openapi.yaml."""
    assert store._limits.max_leads_per_ou == LIMITS.max_leads_per_ou
    assert store._limits.max_events_per_lead == LIMITS.max_events_per_lead
    assert store._limits.max_aliases_per_lead == LIMITS.max_aliases_per_lead
    assert store._limits.max_deletions_per_ou == LIMITS.max_deletions_per_ou
    assert store._limits.max_metadata_keys == LIMITS.max_metadata_keys
    assert not [key for key in spec.document["info"] if key.startswith("x-max")]


def test_a_full_ou_refuses_a_new_lead_with_a_409_and_changes_nothing(client: FlaskClient, store: LeadStore) -> None:
    _limited(store, max_leads_per_ou=store.list_leads(DEFAULT, LeadQuery())["total"])
    before = store.list_leads(DEFAULT, LeadQuery(limit=100))
    body = '{"event_type":"page_view","aliases":[{"alias_kind":"email","raw_value":"new@x.example"}]}'
    response = _send(client, "POST", "/ingest", body)
    assert response.status_code == 409
    assert problem(response)["type"] == "/problems/limit-reached"
    assert store.list_leads(DEFAULT, LeadQuery(limit=100)) == before
    assert _send(client, "POST", "/ingest", '{"event_type":"page_view","lead_id":"ld_123"}').status_code == 202


def test_a_lead_refuses_aliases_past_its_limit(store: LeadStore) -> None:
    held = len(store.list_aliases(DEFAULT, "ld_123")["aliases"])
    _limited(store, max_aliases_per_lead=held + 1)
    email = store.list_aliases(DEFAULT, "ld_123")["aliases"][0]
    two_new = ((email["kind"], email["value"]), ("cookie", "c_1"), ("cookie", "c_2"))
    with pytest.raises(LimitReached):
        store.ingest(DEFAULT, IngestRequest("page_view", aliases=two_new))
    assert len(store.list_aliases(DEFAULT, "ld_123")["aliases"]) == held
    store.ingest(DEFAULT, IngestRequest("page_view", aliases=two_new[:2]))
    assert len(store.list_aliases(DEFAULT, "ld_123")["aliases"]) == held + 1


def test_a_lead_keeps_its_newest_events_and_its_score_follows_them(store: LeadStore, clock: FakeClock) -> None:
    _limited(store, max_events_per_lead=5)
    for _ in range(12):
        clock.advance(minutes=1)
        store.ingest(DEFAULT, IngestRequest("email_open", lead_id="ld_123"))  # +1 each
    assert len(store._leads["ld_123"].events) == 5
    assert store.get_lead(DEFAULT, "ld_123")["score"] == 5
    explained = store.score_explain(DEFAULT, "ld_123", 720)
    assert sum(driver["count"] for driver in explained["top_drivers"]) == 5


def test_deletions_keep_the_newest_statuses(store: LeadStore) -> None:
    _limited(store, max_deletions_per_ou=2)
    ids = [lead["lead_id"] for lead in store.list_leads(DEFAULT, LeadQuery(limit=3))["leads"]]
    for lead_id in ids:
        store.delete_lead(DEFAULT, lead_id)
    assert len(store._deletions[DEFAULT]) == 2
    store.deletion_status(DEFAULT, ids[-1])


def test_event_metadata_is_kept_only_as_far_as_scoring_reads_it(client: FlaskClient, store: LeadStore) -> None:
    junk = {"path": "/pricing/plans", "junk": [[] for _ in range(30_000)]}
    body = json.dumps({"event_type": "page_view", "lead_id": "ld_123", "metadata": junk})
    before = store.get_lead(DEFAULT, "ld_123")["score"]
    assert _send(client, "POST", "/ingest", body).status_code == 202
    kept = store._leads["ld_123"].events[-1].metadata
    assert "junk" not in kept
    assert len(json.dumps(kept)) < 100
    assert store.get_lead(DEFAULT, "ld_123")["score"] == before + 10  # rl_pricing_view (+10) still matches


# Found by a hostile-client campaign after the move to uvicorn (issue #10): a 500 or a non-problem error.


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://["},
        {"Origin": "http://]"},
        {"Origin": "http://[::1"},
        {"Origin": "http://localhost:5173", "Host": "["},
    ],
    ids=["origin-[", "origin-]", "origin-unclosed-ipv6", "host-["],
)
def test_a_malformed_origin_or_host_is_no_500(client: FlaskClient, headers: dict[str, str]) -> None:
    """The cookie of POST /org-units/active compares sites; a URL that does not parse has none."""
    response = client.post("/org-units/active", headers={**AUTH, **headers}, json={"ouId": "unit_emea"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Set-Cookie"].startswith("activeOu=unit_emea;")


@pytest.mark.parametrize("credentials", ["\xff\xff\xff\xff", "ä:ö", "bHZfY2lfZGVtbzpsdl9jc19kZW1v\u00e9"])
def test_basic_credentials_that_are_not_ascii_are_a_401(client: FlaskClient, credentials: str) -> None:
    response = client.get(
        "/lead/by-alias?alias_kind=email&alias=a@b.c",
        headers={"Authorization": ("Basic " + credentials).encode("utf-8").decode("latin-1")},
    )
    assert response.status_code == 401
    assert problem(response)["type"] == "/problems/unauthorized"


@pytest.mark.parametrize("path", ["/openapi.yaml", "/docs/static/swagger-ui.css"])
@pytest.mark.parametrize(
    "condition",
    [{"If-Match": "x"}, {"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, {"Range": "bytes=999999999-"}],
    ids=["if-match", "if-unmodified-since", "range"],
)
def test_conditions_on_the_served_files_are_not_a_non_problem_error(
    client: FlaskClient, path: str, condition: dict[str, str]
) -> None:
    """Werkzeug answered a failed condition with a 412 (or 416) whose body was the file itself."""
    whole = client.get(path)
    response = client.get(path, headers=condition)
    assert (response.status_code, response.data) == (200, whole.data)


def test_an_error_a_library_makes_on_its_own_becomes_a_problem_document(client: FlaskClient) -> None:
    """The last guard: any 4xx or 5xx that is not a problem document is turned into one."""
    app = client.application

    @app.get("/_test/teapot")
    def teapot() -> tuple[str, int]:
        return "<p>I am a teapot</p>", 418

    response = client.get("/_test/teapot")
    assert response.status_code == 418
    assert response.mimetype == "application/problem+json"
    assert problem(response)["status"] == 418


def test_the_docs_never_point_try_it_out_at_the_requests_host(client: FlaskClient) -> None:
    document = client.get("/docs/openapi.json", headers={"Host": "evil.example"}).get_json()
    assert document["servers"] == [{"url": "/", "description": "this mock"}]
    assert "evil.example" not in client.get("/docs/openapi.json", headers={"Host": "evil.example"}).get_data(
        as_text=True
    )


# A second hostile-client campaign (issue #10): digits that are not ASCII, admin bodies, a NUL, the log.


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("GET", "/lead/ld_123", {"Prefer": "code=\u00b2\u00b2\u00b2"}, None),
        ("GET", "/_mock/requests?limit=%C2%B2", {}, None),
        ("PUT", "/_mock/chaos", {}, '{"fail_with":["\\u00b2"]}'),
        ("PUT", "/_mock/chaos/getLead", {}, '{"fail_with":["\\u00b2"]}'),
        ("PUT", "/_mock/scenario", {}, '{"name":["x"]}'),
        ("PUT", "/_mock/scenario", {}, '{"name":{"a":1}}'),
        ("PUT", "/_mock/chaos", {}, "[" * 5_000 + "]" * 5_000),
        ("PUT", "/_mock/scenario", {}, '{"name":' + "[" * 5_000 + "]" * 5_000 + "}"),
        ("PUT", "/_mock/chaos", {}, '{"delay":"\\ud800"}'),
    ],
    ids=[
        "prefer-superscript",
        "requests-limit-superscript",
        "chaos-superscript",
        "operation-chaos-superscript",
        "scenario-list",
        "scenario-object",
        "chaos-deep",
        "scenario-deep",
        "chaos-surrogate",
    ],
)
def test_hostile_values_on_the_mocks_own_controls_are_a_400(
    client: FlaskClient, method: str, path: str, headers: dict[str, str], body: str | None
) -> None:
    """`str.isdigit` accepts '²', which `int` refuses; the admin API read bodies with the stdlib parser."""
    before = client.get("/_mock/chaos").get_json()
    response = client.open(path, method=method, headers={**AUTH, **headers}, data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert client.get("/_mock/chaos").get_json() == before


@pytest.mark.parametrize("path", ["/docs/static/%00", "/docs/static/swagger-ui-bundle.js%00", "/docs/static/.."])
def test_a_nul_or_a_climb_in_a_served_files_name_is_a_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_the_log_line_and_the_journal_escape_what_a_client_sent() -> None:
    """A path with a line break, an escape sequence and an undecodable byte forged log lines (and a
    surrogate escape made /_mock/requests invalid Unicode)."""
    out = io.StringIO()
    journal = Journal(out=out)
    forged = "/lead/x\n06:00:00 GET /lead/ld_123 200 0.1ms\nTraceback \x1b[31mRED\udcff"
    problem_body = json.dumps({"detail": f"No operation at {forged[:-1]}."}).encode()  # as the app writes it
    journal.record("GET", forged, "", 404, 0.001, problem_body)
    line = out.getvalue()
    assert line.count("\n") == 1
    assert "\x1b" not in line
    assert "\\n06:00:00" in line
    assert "\\x1b[31m" in line
    entry = journal.recent(1)[0]
    orjson.dumps(entry)  # valid Unicode: a lone surrogate would raise here
    assert "\\udcff" in entry["path"]


def test_leadvibe_mock_help_lists_every_limit_of_the_mock() -> None:
    from dataclasses import fields

    from mock_server.cli import build_parser

    shown = build_parser().format_help()
    for item in fields(LIMITS):
        row = next((line for line in shown.splitlines() if line.split()[:1] == [item.name]), "")
        assert str(getattr(LIMITS, item.name)) in row, item.name
