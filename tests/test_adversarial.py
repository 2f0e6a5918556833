"""The adversarial suite (issue #10): hostile bodies, headers, query strings and path ids against every
operation of the spec. Whatever arrives: never a 5xx, every 4xx a problem document, the request's cost
bounded (time and memory, generous limits), and a refused request leaves the state exactly as it was.

Each example starts from the operation's valid request (`leadvibe_contract.examples`) and spoils one part.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadvibe_contract import example_request, load_contract
from mock_server.api.state import mock_state
from tests.helpers import DEMO, bearer, problem

SPEC = load_contract()
MAX_SECONDS = 3.0
MAX_PEAK_BYTES = 64 * 1024 * 1024

# Raw JSON texts no well-behaved client sends.
HOSTILE_JSON = st.one_of(
    st.sampled_from(['"\\ud800"', '"x\\udfff"', '{"\\ud800":1}', '"\\u0000\\u001f"', "1e999", "NaN", "-Infinity"]),
    st.integers(1, 3_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(1, 3_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(1, 20_000).map(lambda keys: json.dumps({f"{index}x": 1 for index in range(keys)})),
    st.integers(1, 30_000).map(lambda items: json.dumps([[] for _ in range(items)])),
    st.integers(1, 5_000).map(lambda digits: "9" * digits),
    st.text(st.characters(codec="utf-8"), max_size=50).map(lambda text: json.dumps(text, ensure_ascii=False)),
    st.integers(1, 2_000_000).map(lambda size: json.dumps("a" * size)),
    st.binary(max_size=40).map(lambda raw: raw.decode("latin-1")),
)
# Texts for a query value or a path segment, percent-encoded as sent.
HOSTILE_TEXT = st.one_of(
    st.sampled_from(["%ED%A0%80", "%FF%FE", "%00", "%0D%0A", "..", "%2F", "9" * 400, "-0", "1e999", "NaN", "0x10"]),
    st.text(st.characters(codec="utf-8"), max_size=80).map(lambda text: quote(text, safe="")),
    st.integers(1, 8_000).map(lambda size: "a" * size),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "0000-00-00T00:00:00Z"]),
)
HOSTILE_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["text/plain", "application/json; charset=latin-1", "application/json;;", "", "*/*", "application/jsonx"]
        ),
        "Authorization": st.sampled_from(["Bearer", "Bearer " + "a" * 5000, "Basic a2Ju", "bearer kbn_pat_demo"]),
        "Cookie": st.sampled_from(["activeOu=unit_emea", "activeOu=" + "x" * 4000, "activeOu=\x7f", "a" * 3000]),
    },
)


def _snapshot(app: Flask) -> Any:
    store = mock_state(app).store
    with store._lock:
        leads = {
            lead_id: (lead.view(), [(a.kind, a.value) for a in lead.aliases], len(lead.events))
            for lead_id, lead in store._leads.items()
        }
        deletions = {scope: dict(kept) for scope, kept in store._deletions.items()}
        return leads, deletions, dict(store._alias_owner)


def _body_with(example: Any, hostile: str, where: int) -> str:
    """The example body with one top-level value (or the whole body) replaced by hostile JSON text."""
    if not isinstance(example, dict) or not example or where < 0:
        return hostile
    keys = list(example)
    spoiled = keys[where % len(keys)]
    parts = [f"{json.dumps(key)}:{hostile if key == spoiled else json.dumps(value)}" for key, value in example.items()]
    return "{" + ",".join(parts) + "}"


@st.composite
def hostile_requests(draw: st.DrawFn, operation_id: str) -> dict[str, Any]:
    example = example_request(SPEC, operation_id)
    operation = SPEC.operations[operation_id]
    path, query = example.path, dict(example.query)
    body = None if example.body is None else json.dumps(example.body)
    headers = {**bearer(DEMO), "Content-Type": "application/json"}
    part = draw(st.sampled_from(["body", "query", "path", "headers"]))
    if part == "body" or (part == "path" and "ld_123" not in path):
        body = _body_with(example.body, draw(HOSTILE_JSON), draw(st.integers(-1, 5)))
    elif part == "query":
        names = [p.name for p in operation.parameters if p.location == "query"] or ["unknown"]
        query[draw(st.sampled_from(names))] = draw(HOSTILE_TEXT)
    elif part == "path":
        path = path.replace("ld_123", draw(HOSTILE_TEXT) or "x", 1)
    else:
        headers.update(draw(HOSTILE_HEADERS))
    url = path + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")
    return {"method": example.method, "url": url, "body": body, "headers": headers}


@pytest.mark.parametrize("operation_id", sorted(SPEC.operations))
def test_hostile_requests_are_refused_cheaply_and_change_nothing(app: Flask, operation_id: str) -> None:
    client = app.test_client()

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(sent=hostile_requests(operation_id))
    def check(sent: dict[str, Any]) -> None:
        before = _snapshot(app)
        tracemalloc.start()
        started = time.thread_time()  # CPU time of this thread: other processes' load does not count
        try:
            response = client.open(
                sent["url"], method=sent["method"], headers=sent["headers"], data=sent["body"], buffered=True
            )
            elapsed = time.thread_time() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code < 500, response.data[:300]
        assert elapsed < MAX_SECONDS, f"{elapsed:.2f} s of CPU"
        body_size = len(sent["body"] or "")
        assert peak < MAX_PEAK_BYTES + 30 * body_size, f"{peak / 1e6:.1f} MB"
        if response.status_code >= 400:
            found = problem(response)
            assert {"type", "title", "status", "detail"} <= set(found)
            assert _snapshot(app) == before, "a refused request changed the state"

    check()
