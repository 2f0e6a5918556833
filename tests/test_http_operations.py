"""Every operation over HTTP (Flask test client): its examples work, auth, OU isolation, methods, errors."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from leadvibe_contract.contract import load_contract
from leadvibe_contract.examples import example_request
from tests.helpers import DEMO, DEMO_EMEA, OTHER_ORG, bearer, problem, send

SPEC = load_contract()
ALL_OPERATIONS = sorted(SPEC.operations)
LEAD_OPERATIONS = sorted(operation.operation_id for operation in SPEC.operations.values() if operation.names_a_lead)


@pytest.mark.parametrize("operation_id", ALL_OPERATIONS)
def test_the_specs_example_request_succeeds(client: FlaskClient, operation_id: str) -> None:
    request = example_request(SPEC, operation_id)
    if operation_id == "getLeadDeletionStatus":
        assert client.delete("/lead/ld_123", headers=bearer(DEMO)).status_code == 200
    response = send(client, request, bearer(DEMO))
    assert response.status_code in SPEC.operations[operation_id].responses
    assert 200 <= response.status_code < 300, response.get_json()
    assert response.mimetype == "application/json"


@pytest.mark.parametrize("operation_id", ALL_OPERATIONS)
@pytest.mark.parametrize(
    ("headers", "invalid_token"),
    [
        ({}, False),
        ({"Authorization": "Bearer"}, True),
        ({"Authorization": "Basic a2JuX3BhdF9kZW1vOg=="}, False),  # unknown Basic credentials: no token error
        ({"Authorization": "Bearer kbn_pat_nope"}, True),
    ],
    ids=["missing", "empty", "basic", "unknown"],
)
def test_every_operation_needs_a_valid_bearer_token(
    client: FlaskClient, operation_id: str, headers: dict[str, str], invalid_token: bool
) -> None:
    before = client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()
    response = send(client, example_request(SPEC, operation_id), headers)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is invalid_token
    assert 'Basic realm="leadvibe"' in challenge  # every operation takes service-account credentials too
    assert problem(response)["type"] == "/problems/unauthorized"
    assert client.get("/lead/ld_123", headers=bearer(DEMO)).get_json() == before


@pytest.mark.parametrize("operation_id", LEAD_OPERATIONS)
@pytest.mark.parametrize("token", [DEMO_EMEA, OTHER_ORG])
def test_another_ous_lead_is_not_found_on_every_lead_operation(
    client: FlaskClient, operation_id: str, token: str
) -> None:
    if operation_id == "getLeadDeletionStatus":
        assert client.delete("/lead/ld_123", headers=bearer(DEMO)).status_code == 200
    before = client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()
    response = send(client, example_request(SPEC, operation_id), bearer(token))
    assert response.status_code == 404
    assert problem(response)["type"] == "/problems/not-found"
    # Exactly like a lead that does not exist at all:
    missing = send(client, example_request(SPEC, operation_id, lead_id="ld_does_not_exist"), bearer(DEMO))
    assert missing.status_code == 404
    assert client.get("/lead/ld_123", headers=bearer(DEMO)).get_json() == before


def test_ingesting_into_another_ous_lead_by_id_is_not_found(client: FlaskClient) -> None:
    body = {"event_type": "page_view", "lead_id": "ld_123"}
    assert client.post("/ingest", json=body, headers=bearer(DEMO_EMEA)).status_code == 404
    assert client.get("/lead/ld_123", headers=bearer(DEMO)).get_json()["score"] == 75


@pytest.mark.parametrize("operation_id", ALL_OPERATIONS)
def test_an_unsupported_method_is_a_405_with_allow(client: FlaskClient, operation_id: str) -> None:
    operation = SPEC.operations[operation_id]
    declared = {method.upper() for method in SPEC.document["paths"][operation.path] if method != "parameters"}
    unsupported = next(method for method in ("PATCH", "PUT", "DELETE", "POST") if method not in declared)
    response = send(client, example_request(SPEC, operation_id), bearer(DEMO), method=unsupported)
    assert response.status_code == 405
    assert declared <= set(response.headers["Allow"].split(", "))
    assert problem(response)["type"] == "/problems/method-not-allowed"


def test_an_unknown_path_is_a_problem_not_an_html_page(client: FlaskClient) -> None:
    response = client.get("/nope", headers=bearer(DEMO))
    assert response.status_code == 404
    assert problem(response)["detail"].startswith("No operation")
