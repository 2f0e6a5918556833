"""Mock-only endpoints, outside the contract and without auth: health, reset, scenarios, failure and
latency rules, the request journal, the spec."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from mock_server.api.json_body import BodyRefused, read_json
from mock_server.api.numbers import whole_number
from mock_server.api.problems import ApiProblem, FieldError
from mock_server.api.state import MockState, mock_state
from mock_server.leads.seed import SeedError, load_seed
from mock_server.limits import LIMITS
from mock_server.tools.chaos import ChaosError, Rule
from mock_server.tools.scenarios import SCENARIOS, apply_scenario, describe, scenario_seed

admin = Blueprint("mock_admin", __name__)


def _json_body() -> Any:
    """The JSON body, read as strictly as an operation's (`json_body.py`): no depth or string breaks it."""
    try:
        body, _ = read_json(request.get_data(cache=True), LIMITS.max_json_depth, LIMITS.max_json_values)
    except BodyRefused as refused:
        errors = [FieldError("body", refused.pointer, refused.detail)]
        raise ApiProblem(400, "validation-error", f"Send a JSON body: {refused.detail}.", errors=errors) from None
    return body


@admin.get("/_mock/health")
def health() -> Response:
    state = mock_state(current_app)
    return jsonify(
        status="ok",
        leads=state.store.lead_count(),
        scenario=state.controls.scenario,
        reload_error=state.controls.reload_error,
        chaos=state.controls.chaos.to_json(),
    )


def _reset(state: MockState, scenario: str) -> None:
    """The seed (re-read from disk if it changed) in `scenario`; a broken seed file changes nothing."""
    try:
        seed = scenario_seed(scenario, load_seed(state.config.seed_path, state.spec))
    except SeedError as exc:
        raise ApiProblem(400, "invalid-seed", f"{exc}; the state was not reset.") from exc
    state.directory.load(seed)
    state.store.reset(seed)
    apply_scenario(scenario, state.store)
    state.controls.scenario = scenario


@admin.post("/_mock/reset")
def reset() -> Response:
    """Back to the seed, in the current scenario."""
    state = mock_state(current_app)
    _reset(state, state.controls.scenario)
    return Response(status=204)


@admin.get("/_mock/scenarios")
def scenarios() -> Response:
    return jsonify(current=mock_state(current_app).controls.scenario, scenarios=describe())


@admin.put("/_mock/scenario")
def switch_scenario() -> Response:
    """`{"name": "empty"}`: the state becomes that scenario's (every change made so far is dropped)."""
    body = _json_body()
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or name not in SCENARIOS:
        detail = f"Unknown scenario {name!r}; known: {', '.join(SCENARIOS)}."
        raise ApiProblem(400, "validation-error", detail, errors=[FieldError("body", "/name", detail)])
    _reset(mock_state(current_app), name)
    return jsonify(current=name)


@admin.get("/_mock/requests")
def requests_journal() -> Response:
    """The newest requests first (`?limit=`, default 50), each with its status, time, verdict, headers
    (credentials redacted), query and bodies; `?operation=getLead`: that operation's only, and `count` says
    how many of the kept ones there are ("was getLead called twice, with what?")."""
    state = mock_state(current_app)
    limit = whole_number(request.args.get("limit", "50"), 0, 10**9)
    if limit is None:
        detail = "limit must be a whole number (at most 1000000000)."
        raise ApiProblem(400, "validation-error", detail, errors=[FieldError("query", "limit", detail)])
    entries = state.controls.journal.recent(len(state.controls.journal.entries))
    operation = request.args.get("operation")
    if operation is not None:
        if operation not in state.spec.operations:
            detail = f"No operation {operation[:80]!r}; operationIds are in openapi.yaml (e.g. getLead)."
            raise ApiProblem(400, "validation-error", detail, errors=[FieldError("query", "operation", detail)])
        route = state.controls.route
        entries = [e for e in entries if route(e["method"], e["path"].split("?", 1)[0]) == operation]
    return jsonify(requests=entries[:limit], count=len(entries))


@admin.delete("/_mock/requests")
def clear_journal() -> Response:
    mock_state(current_app).controls.journal.clear()
    return Response(status=204)


def _rule(body: Any, base: Rule | None) -> Rule:
    try:
        return Rule.from_json(body, base)
    except ChaosError as exc:
        raise ApiProblem(400, "validation-error", str(exc), errors=[FieldError("body", "", str(exc))]) from None


@admin.get("/_mock/chaos")
def chaos() -> Response:
    return jsonify(mock_state(current_app).controls.chaos.to_json())


@admin.put("/_mock/chaos")
def set_chaos() -> Response:
    """The rule for every operation without one of its own: `{"delay": "100-800", "fail_rate": 0.1}`;
    what the body leaves out stays as it was (a start-up `--fail-rate` survives setting a delay)."""
    rules = mock_state(current_app).controls.chaos
    rules.rule = _rule(_json_body(), rules.rule)
    return chaos()


@admin.delete("/_mock/chaos")
def clear_chaos() -> Response:
    rules = mock_state(current_app).controls.chaos
    rules.rule = Rule()
    rules.operations.clear()
    return Response(status=204)


@admin.put("/_mock/chaos/<operation_id>")
def set_operation_chaos(operation_id: str) -> Response:
    state = mock_state(current_app)
    if operation_id not in state.spec.operations:
        detail = f"No operation {operation_id!r}; operationIds are in openapi.yaml (e.g. getLead)."
        raise ApiProblem(404, "not-found", detail)
    operations = state.controls.chaos.operations
    operations[operation_id] = _rule(_json_body(), operations.get(operation_id))
    return chaos()


@admin.delete("/_mock/chaos/<operation_id>")
def clear_operation_chaos(operation_id: str) -> Response:
    mock_state(current_app).controls.chaos.operations.pop(operation_id, None)
    return Response(status=204)


@admin.get("/openapi.yaml")
def openapi() -> Response:
    """The spec the mock serves from: the last good version while an edit is refused."""
    return Response(mock_state(current_app).spec_source, mimetype="application/yaml")
