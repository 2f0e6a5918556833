"""The mock as a frontend developer's daily tool (issue #9), in-process: CORS, the OU cookie across
hosts, forced responses (`Prefer`), scenarios, and the admin API's failure rules."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from leadvibe_contract.contract import Contract
from mock_server.api.problems import ApiProblem
from mock_server.tools.chaos import Chaos, ChaosError, Rule, parse_delay
from tests.helpers import DEMO, FakeClock, bearer

AUTH = bearer(DEMO)
PAGE = "http://localhost:5173"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    return body


# -- CORS ------------------------------------------------------------------------------------------


def test_a_preflight_admits_any_request_header_a_front_end_sends(client: FlaskClient) -> None:
    asked = "authorization, content-type, prefer, x-request-id, traceparent, x-mock-delay"
    response = client.options(
        "/lead/ld_123",
        headers={"Origin": PAGE, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": asked},
    )
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {h.strip() for h in asked.split(",")}


def test_a_script_may_read_the_headers_the_api_and_the_mock_send(client: FlaskClient) -> None:
    response = client.get("/lead/ld_123", headers={"Origin": PAGE})
    exposed = {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"www-authenticate", "allow", "retry-after", "location", "preference-applied"} <= exposed
    assert "set-cookie" not in exposed


def test_a_foreign_origin_gets_no_cors_headers(client: FlaskClient) -> None:
    response = client.get("/lead/ld_123", headers={**AUTH, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


# -- the activeOu cookie ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "attributes"),
    [
        (None, "127.0.0.1:4010", {"SameSite=Lax"}),
        ("http://localhost:5173", "localhost:4010", {"SameSite=Lax"}),
        ("http://127.0.0.1:5173", "127.0.0.1:4010", {"SameSite=Lax"}),
        ("http://localhost:5173", "127.0.0.1:4010", {"SameSite=None", "Secure", "Partitioned"}),
        ("http://127.0.0.1:3000", "localhost:4010", {"SameSite=None", "Secure", "Partitioned"}),
        ("http://[::1]:3000", "localhost:4010", {"SameSite=None", "Secure", "Partitioned"}),
    ],
)
def test_the_ou_cookie_is_made_to_survive_a_cross_site_page(
    client: FlaskClient, origin: str | None, host: str, attributes: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    headers = {**AUTH, "Host": host, **({"Origin": origin} if origin else {})}
    response = client.post("/org-units/active", json={"ouId": "unit_emea"}, headers=headers)
    assert response.status_code == 200
    cookie = {part.strip() for part in response.headers["Set-Cookie"].split(";")}
    assert attributes <= cookie
    assert "HttpOnly" in cookie
    cross = "Partitioned" in attributes
    assert ("cross-site page" in caplog.text) is cross
    if not cross:
        assert "Secure" not in cookie


# -- forced responses ------------------------------------------------------------------------------


def test_prefer_code_forces_a_declared_status_and_changes_no_state(client: FlaskClient, spec: Contract) -> None:
    forced = client.get("/lead/ld_123", headers={**AUTH, "Prefer": "code=404"})
    assert _problem(forced, 404)["status"] == 404
    assert forced.headers["Preference-Applied"] == "code=404"
    put = client.put(
        "/lead/ld_123", json={"owner_name": "Nobody"}, headers={**AUTH, "Prefer": "code=200, example=nope"}
    )
    assert _problem(put, 400)["type"] == "/problems/unsatisfiable-preference"
    client.put("/lead/ld_123", json={"owner_name": "Nobody"}, headers={**AUTH, "Prefer": "code=200"})
    assert client.get("/lead/ld_123", headers=AUTH).get_json()["owner_name"] == "Jane Smith"


def test_prefer_example_picks_a_named_example(client: FlaskClient) -> None:
    response = client.get("/lead/ld_999", headers={**AUTH, "Prefer": "example=ld_123"})
    assert response.status_code == 200
    assert response.get_json()["lead_id"] == "ld_123"
    assert response.headers["Preference-Applied"] == "example=ld_123"


@pytest.mark.parametrize("status", [200, 400, 401, 404, 500])
def test_prefer_dynamic_generates_a_body_the_schema_accepts(client: FlaskClient, spec: Contract, status: int) -> None:
    operation = spec.operations["getLead"]
    for _ in range(10):
        response = client.get("/lead/ld_123", headers={**AUTH, "Prefer": f"code={status}, dynamic=true"})
        assert response.status_code == status
        validator = operation.responses[status]
        assert validator is not None
        assert validator.is_valid(response.get_json()), response.get_json()
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_status_the_operation_does_not_declare_is_refused_by_name(client: FlaskClient) -> None:
    problem = _problem(client.get("/lead/ld_123", headers={**AUTH, "Prefer": "code=418"}), 400)
    assert "declares no 418" in problem["detail"]
    assert problem["errors"][0]["name"] == "Prefer"
    assert _problem(client.get("/lead/ld_123", headers={**AUTH, "Prefer": "code=abc"}), 400)


def test_a_forced_response_still_needs_credentials_and_a_valid_request(client: FlaskClient) -> None:
    assert client.get("/lead/ld_123", headers={"Prefer": "code=200"}).status_code == 401
    assert client.get("/leads?limit=0", headers={**AUTH, "Prefer": "code=200"}).status_code == 400


def test_other_preferences_are_ignored(client: FlaskClient) -> None:
    response = client.get("/lead/ld_123", headers={**AUTH, "Prefer": "return=minimal"})
    assert response.status_code == 200
    assert "Preference-Applied" not in response.headers


# -- scenarios -------------------------------------------------------------------------------------


def _scenario(client: FlaskClient, name: str) -> None:
    response = client.put("/_mock/scenario", json={"name": name})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_scenarios_are_listed_and_switched_without_restart(client: FlaskClient) -> None:
    listed = client.get("/_mock/scenarios").get_json()
    assert listed["current"] == "demo"
    assert {"demo", "empty", "large", "deletion-pending", "deletion-fails", "score-reset"} <= set(listed["scenarios"])
    _scenario(client, "empty")
    assert client.get("/leads", headers=AUTH).get_json()["total"] == 0
    _scenario(client, "large")
    assert client.get("/leads", headers=AUTH).get_json()["total"] > 5_000
    client.post("/_mock/reset")  # a reset stays in the scenario
    assert client.get("/leads", headers=AUTH).get_json()["total"] > 5_000
    _scenario(client, "demo")
    assert client.get("/lead/ld_123", headers=AUTH).status_code == 200
    assert _problem(client.put("/_mock/scenario", json={"name": "nope"}), 400)["errors"][0]["name"] == "/name"


def test_deletion_scenarios(client: FlaskClient, clock: FakeClock) -> None:
    _scenario(client, "deletion-pending")
    assert client.get("/lead/ld_123", headers=AUTH).status_code == 404
    clock.advance(hours=1)
    assert client.get("/lead-deletions/ld_123", headers=AUTH).get_json()["status"] == "pending"
    _scenario(client, "deletion-fails")
    assert client.delete("/lead/ld_123", headers=AUTH).status_code == 200
    clock.advance(seconds=10)
    assert client.get("/lead-deletions/ld_123", headers=AUTH).get_json()["status"] == "failed"


def test_the_score_reset_scenario_resets_ld_123(client: FlaskClient) -> None:
    before = client.get("/score/ld_123", headers=AUTH).get_json()["score"]
    _scenario(client, "score-reset")
    after = client.get("/score/ld_123", headers=AUTH).get_json()["score"]
    assert after < before


# -- failure and latency rules ---------------------------------------------------------------------


def test_the_admin_api_sets_and_clears_failure_rules(client: FlaskClient) -> None:
    rules = client.put("/_mock/chaos", json={"delay": "100-300", "fail_rate": 0.5, "fail_with": [503, "drop"]})
    assert rules.get_json()["all"] == {"delay": "100-300", "fail_rate": 0.5, "fail_with": [503, "drop"]}
    one = client.put("/_mock/chaos/getLead", json={"fail_rate": 1, "fail_with": [429]})
    assert one.get_json()["operations"]["getLead"]["fail_with"] == [429]
    assert client.put("/_mock/chaos/noSuchOperation", json={}).status_code == 404
    assert _problem(client.put("/_mock/chaos", json={"fail_rate": 2}), 400)
    assert _problem(client.put("/_mock/chaos", json={"fail_with": [200]}), 400)
    assert _problem(client.put("/_mock/chaos", json={"delay": "9-1"}), 400)
    assert client.delete("/_mock/chaos/getLead").status_code == 204
    assert client.delete("/_mock/chaos").status_code == 204
    assert client.get("/_mock/chaos").get_json() == {
        "all": {"delay": "0", "fail_rate": 0.0, "fail_with": [500, 503]},
        "operations": {},
    }


def test_the_request_header_wins_over_the_operation_rule_which_wins_over_the_global_one() -> None:
    chaos = Chaos(rule=Rule(delay_ms=(50, 50)), operations={"getLead": Rule(fail_rate=1.0, fail_with=(429,))})
    assert chaos.decide("listLeads", None, None) == (0.05, None)
    assert chaos.decide("getLead", None, None) == (0.0, 429)
    assert chaos.decide("getLead", "300", "drop") == (0.3, "drop")
    with pytest.raises(ApiProblem):
        chaos.decide(None, "soon", None)
    with pytest.raises(ChaosError):
        parse_delay("60001")


@pytest.mark.parametrize("path", ["/leads", "/score/ld_123", "/leads/ld_123/score"])
def test_prefer_dynamic_never_fails_on_a_bounded_string(client: FlaskClient, path: str) -> None:
    """A string of `maxLength: 0` once made the length range empty: a 500 for 6 in 10 requests."""
    for _ in range(40):
        response = client.get(path, headers={**AUTH, "Prefer": "code=200, dynamic=true"})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]


# -- issue #21: defects --------------------------------------------------------------------------

HUGE = "9" * 5_000  # over Python's int-string limit of 4,300 digits


@pytest.mark.parametrize(
    "query",
    [
        "start_date=9999-12-31T23:00:01Z&end_date=9999-12-31T23:59:59Z",
        "start_date=9999-12-31T22:00:00Z&end_date=9999-12-31T23:59:59Z",
    ],
)
def test_score_history_at_the_calendars_last_hour(client: FlaskClient, clock: FakeClock, query: str) -> None:
    """The hourly series stepped one hour past its end: past 9999-12-31T23:00 that overflowed (a 500)."""
    from datetime import UTC, datetime

    clock.now = datetime(9999, 12, 31, 23, 30, tzinfo=UTC)
    answer = client.get(f"/lead/ld_123/score-history?{query}", headers=AUTH)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    hours = {snapshot["snapshot_at"] for snapshot in answer.get_json()["snapshots"]}
    assert hours <= {"9999-12-31T22:00:00Z", "9999-12-31T23:00:00Z"}


@pytest.mark.parametrize(
    ("method", "path", "options", "name"),
    [
        ("GET", "/lead/ld_123", {"headers": {**AUTH, "Prefer": f"code={HUGE}"}}, "Prefer"),
        ("GET", f"/_mock/requests?limit={HUGE}", {}, "limit"),
        ("PUT", "/_mock/chaos", {"json": {"fail_with": [HUGE]}}, ""),
        ("PUT", "/_mock/chaos/getLead", {"data": f'{{"fail_with": [{HUGE}]}}'}, ""),
    ],
    ids=["prefer-code", "journal-limit", "fail_with-string", "fail_with-number"],
)
def test_a_number_of_thousands_of_digits_is_a_400(
    client: FlaskClient, method: str, path: str, options: dict[str, Any], name: str
) -> None:
    body = _problem(client.open(path, method=method, **options), 400)
    assert body["errors"][0]["name"] == name


def test_x_mock_fail_of_thousands_of_digits_is_a_400_problem() -> None:
    with pytest.raises(ApiProblem) as raised:
        Chaos().decide("getLead", None, HUGE)
    assert raised.value.status == 400


def test_setting_a_delay_keeps_the_failure_rate_in_force(client: FlaskClient) -> None:
    """A start-up `--fail-rate` (here set the same way) survived no `PUT /_mock/chaos {"delay": ...}`."""
    client.put("/_mock/chaos", json={"fail_rate": 0.25})
    rules = client.put("/_mock/chaos", json={"delay": "200"}).get_json()["all"]
    assert rules == {"delay": "200", "fail_rate": 0.25, "fail_with": [500, 503]}
    assert client.get("/_mock/health").get_json()["chaos"]["all"] == rules
    client.put("/_mock/chaos/getLead", json={"fail_rate": 1, "fail_with": [429]})
    one = client.put("/_mock/chaos/getLead", json={"delay": "5"}).get_json()["operations"]["getLead"]
    assert one == {"delay": "5", "fail_rate": 1.0, "fail_with": [429]}


def test_the_cli_default_failures_are_the_rules() -> None:
    from mock_server.cli import build_parser

    assert build_parser().parse_args([]).fail_with == ",".join(map(str, Rule().fail_with)) == "500,503"


@pytest.mark.parametrize("value", ["%EF%BC%91", "%D9%A1", "1%0A", "1_0", "%201", "1e400"])
def test_only_ascii_digits_are_numbers(client: FlaskClient, value: str) -> None:
    """A fullwidth or Arabic-Indic digit, a trailing newline, an underscore were taken as numbers."""
    _problem(client.get(f"/leads?page={value}", headers=AUTH), 400)


def test_a_204_has_no_content_type(client: FlaskClient) -> None:
    for method, path in (("POST", "/_mock/reset"), ("DELETE", "/_mock/requests"), ("DELETE", "/_mock/chaos")):
        answer = client.open(path, method=method, headers={"Origin": PAGE})
        assert answer.status_code == 204
        assert "Content-Type" not in answer.headers, (path, answer.headers)
        assert answer.headers["Access-Control-Allow-Origin"] == PAGE


# -- issue #21: forcing through the query, repeatable dynamic bodies -------------------------------


def test_the_query_forces_a_response_as_prism_does(client: FlaskClient) -> None:
    """For links, images and generated clients that cannot add a header."""
    missing = client.get("/lead/ld_123?__code=404", headers=AUTH)
    assert _problem(missing, 404)
    assert missing.headers["Preference-Applied"] == "code=404"
    listed = client.get("/leads?limit=2&__code=200&__dynamic=true", headers=AUTH)
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert listed.headers["Preference-Applied"] == "code=200, dynamic=true"
    _problem(client.get("/lead/ld_123?__code=abc", headers=AUTH), 400)
    _problem(client.get("/leads?__code=404&limit=500", headers=AUTH), 400)  # the API's own parameters still count
    assert client.get("/lead/ld_123?__code=404", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_seed_makes_a_dynamic_body_repeatable(client: FlaskClient) -> None:
    def body(prefer: str) -> Any:
        answer = client.get("/lead/ld_123", headers={**AUTH, "Prefer": prefer})
        assert answer.status_code == 200
        return answer.get_json()

    first = body("seed=42")
    assert body("dynamic=true, seed=42") == first
    assert client.get("/lead/ld_123?__seed=42", headers=AUTH).get_json() == first
    assert any(body(f"seed={seed}") != first for seed in range(1, 6))
    _problem(client.get("/lead/ld_123", headers={**AUTH, "Prefer": "seed=-1"}), 400)
