"""The contract itself: openapi.yaml is valid, complete, and its examples tell the truth."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from leadvibe_contract.contract import HTTP_METHODS, Contract, default_spec_path, resolve_ref

SEED_PAGE = Path(__file__).parent / "data" / "lead-detail-api.txt"
URI = "urn:test:openapi"


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item, item[method]


def walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{pointer}/{index}")


@pytest.fixture(scope="module")
def document(spec: Contract) -> dict[str, Any]:
    return dict(spec.document)


@pytest.fixture(scope="module")
def python_validator(document: dict[str, Any]) -> Any:
    """Validators from the reference Python implementation (the mock uses jsonschema-rs: two opinions)."""
    registry: Registry[Any] = Registry().with_resource(
        URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )

    def make(pointer: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{URI}#{pointer}"},
            registry=registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

    return make


def test_the_spec_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = [(pointer, node["$ref"]) for pointer, node in walk(document) if isinstance(node, dict) and "$ref" in node]
    assert len(refs) > 50
    for pointer, ref in refs:
        assert ref.startswith("#/"), f"{pointer}: only local references are used, got {ref}"
        assert resolve_ref(document, {"$ref": ref}) is not None, pointer


def test_every_operation_has_a_unique_id_and_a_route_in_the_mock(document: dict[str, Any], app: Flask) -> None:
    """The spec is the list of operations: each one reaches a handler of the mock, none is listed here."""
    found = [(path, method, operation.get("operationId")) for path, method, _, operation in operations(document)]
    ids = [operation_id for _, _, operation_id in found]
    assert all(ids), found
    assert len(ids) == len(set(ids)), ids
    routes = app.url_map.bind("localhost")
    for path, method, operation_id in found:
        endpoint, _ = routes.match(re.sub(r"\{[^}]+\}", "x", path), method=method.upper())
        assert endpoint, operation_id


def test_every_operation_is_documented_and_protected(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert (schemes["bearerAuth"]["type"], schemes["bearerAuth"]["scheme"]) == ("http", "bearer")
    assert (schemes["basicAuth"]["type"], schemes["basicAuth"]["scheme"]) == ("http", "basic")
    # Docs §1.2: API clients "can also use HTTP Basic"; no page limits it to some endpoints.
    assert document["security"] == [{"bearerAuth": []}, {"basicAuth": []}]
    for path, method, item, operation in operations(document):
        label = f"{method.upper()} {path}"
        assert operation.get("summary"), label
        assert operation.get("description"), label
        assert "security" not in operation, label
        for raw in item.get("parameters", []) + operation.get("parameters", []):
            parameter = resolve_ref(document, raw)
            assert parameter.get("description"), f"{label}: {parameter['name']}"
            assert parameter.get("schema"), f"{label}: {parameter['name']}"


def _response(document: dict[str, Any], operation: dict[str, Any], status: str) -> dict[str, Any]:
    response: dict[str, Any] = resolve_ref(document, operation["responses"][status])
    return response


def test_every_operation_documents_its_errors(document: dict[str, Any]) -> None:
    for path, method, item, operation in operations(document):
        label = f"{method.upper()} {path}"
        statuses = set(operation["responses"])
        assert "401" in statuses, label
        unauthorized = _response(document, operation, "401")
        assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True, label
        has_parameters = bool(item.get("parameters") or operation.get("parameters"))
        if has_parameters or "requestBody" in operation:
            assert "400" in statuses, f"{label}: invalid input must be documented as 400"
            bad_request = _response(document, operation, "400")
            schema = bad_request["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ValidationProblem"}, label
        if "{leadID}" in path:
            assert "404" in statuses, label
        if "requestBody" in operation:
            assert {"413", "415"} <= statuses, label
        for status in statuses:
            response = _response(document, operation, status)
            assert response.get("description"), f"{label} {status}"
            if status.startswith(("4", "5")):
                # The mock's problem document first, then a deployment's plain JSON (docs §1.7).
                assert list(response["content"]) == ["application/problem+json", "application/json"], label
            else:
                assert list(response["content"]) == ["application/json"], f"{label} {status}"


def test_request_bodies_and_responses_are_open_for_extension(document: dict[str, Any]) -> None:
    """The docs never say an unknown field is refused: no object of the spec is closed (issue 18)."""
    closed = [
        pointer
        for pointer, node in walk(document)
        if isinstance(node, dict) and node.get("additionalProperties") is False
    ]
    assert closed == []


def _validator(spec: Contract, operation_id: str, status: int, *, closed: bool) -> Any:
    operation = spec.operations[operation_id]
    validator = (operation.closed_responses if closed else operation.responses)[status]
    assert validator is not None
    return validator


def test_the_closed_copy_holds_responses_to_exactly_their_declared_fields(spec: Contract) -> None:
    lead = dict(spec.document["components"]["examples"]["LeadJaneSmith"]["value"])
    assert _validator(spec, "getLead", 200, closed=False).is_valid({**lead, "extra": 1})  # tolerant reader
    closed_lead = _validator(spec, "getLead", 200, closed=True)
    assert closed_lead.is_valid(lead)
    assert not closed_lead.is_valid({**lead, "extra": 1})
    assert not closed_lead.is_valid({**lead, "score": "75"})
    listed = spec.document["paths"]["/leads"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    page = _validator(spec, "listLeads", 200, closed=True)
    assert page.is_valid(listed)  # allOf parts are closed as a whole, not one by one
    assert not page.is_valid({**listed, "leads": [{**listed["leads"][0], "extra": 1}]})
    error = {"in": "body", "name": "", "detail": "x"}
    problem = {"type": "/p", "title": "t", "status": 400, "detail": "d", "errors": [error]}
    assert _validator(spec, "getLead", 400, closed=True).is_valid(problem)
    assert not _validator(spec, "getLead", 400, closed=True).is_valid({**problem, "code": 7})


def test_every_link_names_an_existing_operation_and_parameter(document: dict[str, Any]) -> None:
    by_id = {operation["operationId"]: (item, operation) for _, _, item, operation in operations(document)}
    links = 0
    for path, method, _, operation in operations(document):
        for status, raw in operation["responses"].items():
            for name, raw_link in _response(document, operation, status).get("links", {}).items():
                links += 1
                link = resolve_ref(document, raw_link)
                label = f"{method.upper()} {path} {status} {name}"
                assert link["operationId"] in by_id, label
                item, target = by_id[link["operationId"]]
                declared = {
                    resolve_ref(document, raw)["name"]
                    for raw in item.get("parameters", []) + target.get("parameters", [])
                }
                assert set(link.get("parameters", {})) <= declared, label
                if "requestBody" in link:
                    assert "requestBody" in target, label
    assert links >= 30


def test_schemathesis_builds_a_state_machine_from_the_links() -> None:
    schema = schemathesis.openapi.from_path(default_spec_path(), config=schemathesis.Config.from_dict({}))
    machine = schema.as_state_machine()
    transitions = [name for name in vars(machine) if "___20" in name]
    assert any(name.startswith("DELETE_lead") and "GetLeadDeletionStatus" in name for name in transitions)
    assert any(name.startswith("POST_ingest") and "ListLeadEvents" in name for name in transitions)


def _examples(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(where, pointer of the schema, example value) for every example in the spec."""
    for pointer, node in walk(document):
        if not isinstance(node, dict):
            continue
        if "schema" in node and ("example" in node or "examples" in node):
            # A parameter or a media type object.
            if "example" in node:
                yield pointer, f"{pointer}/schema", node["example"]
            for name, example in node.get("examples", {}).items():
                yield (
                    f"{pointer}/examples/{name}",
                    f"{pointer}/schema",
                    resolve_ref(document, example)["value"],
                )
        elif "/components/schemas/" in pointer and isinstance(node.get("examples"), list):
            for index, example in enumerate(node["examples"]):
                yield f"{pointer}/examples/{index}", pointer, example


def test_every_example_validates_against_its_schema(document: dict[str, Any], python_validator: Any) -> None:
    examples = list(_examples(document))
    assert len(examples) > 40
    for where, schema_pointer, example in examples:
        errors = [error.message for error in python_validator(schema_pointer).iter_errors(example)]
        assert not errors, f"{where}: {errors}"


def test_the_seed_pages_get_example_is_a_lead_exactly_as_printed(python_validator: Any) -> None:
    page = SEED_PAGE.read_text(encoding="utf-8")
    section = page[page.index("GET /lead/{leadID}") : page.index("DELETE /lead/{leadID}")]
    printed, _ = json.JSONDecoder().raw_decode(section[section.index("{", section.index("200 OK")) :])
    assert printed["lead_id"] == "ld_123"
    assert len(printed) == 8
    assert list(python_validator("/components/schemas/Lead").iter_errors(printed)) == []


def _decisions(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (pointer, text)
        for pointer, node in walk(document)
        if isinstance(node, dict) and "x-decisions" in node
        for text in node["x-decisions"]
    ]


def test_every_gap_the_spec_fills_is_recorded_as_a_decision_outside_consumer_text(document: dict[str, Any]) -> None:
    text = default_spec_path().read_text(encoding="utf-8")
    assert "Decision:" not in text, "decisions live in x-decisions, not in descriptions or summaries"
    decisions = _decisions(document)
    assert len(decisions) >= 40
    assert all(isinstance(decision, str) and len(decision) > 20 for _, decision in decisions)
    for operation_id in (
        "getLeadDeletionStatus",
        "updateLead",
        "getScoreHistory",
        "listLeads",
        "ingestEvent",
        "getScoreExplain",
        "listScoreGains",
        "setLeadOwner",
    ):
        _, _, _, operation = next(op for op in operations(document) if op[3]["operationId"] == operation_id)
        assert operation.get("x-decisions"), operation_id


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("/paths/~1leads/get", "on purpose"),  # pagination metadata: on purpose (docs §9)
        ("/info", "Active OU must be set"),  # docs §1.3
        ("/info", "HTTP Basic"),  # docs §1.2
        ("/paths/~1ingest/post", "still accepted"),  # docs §11.1
        ("/components/schemas/Score", "can be enabled"),  # docs §15
        ("/paths/~1lead~1{leadID}~1score-explain/get", "absolute"),  # docs §7
    ],
)
def test_each_contradiction_of_the_docs_has_a_recorded_decision(
    document: dict[str, Any], where: str, words: str
) -> None:
    assert any(pointer.startswith(where) and words in text for pointer, text in _decisions(document)), where
