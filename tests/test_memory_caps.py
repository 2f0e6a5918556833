"""Issue #19, in-process: memory is bounded in total, not only per request, and a body's CPU by its size.

Each cap is tried with a small value, so that the test fails without it: request body bytes held across
all connections (`max_buffered_request_bytes`), lead metadata held across all leads
(`max_lead_metadata_bytes`), and values read of one JSON body (`max_json_values`)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import tracemalloc
from typing import Any

import orjson
from flask.testing import FlaskClient

from mock_server.api.auth import Scope
from mock_server.leads.store import LeadQuery, LeadStore, metadata_cost
from mock_server.limits import LIMITS
from mock_server.serving.channel import Channel, Request, asgi_app
from mock_server.serving.channel import Scope as AsgiScope
from tests.helpers import DEMO, bearer, problem

AUTH = bearer(DEMO)
DEFAULT = Scope("org_456", "unit_default")


class _Echo:
    """Answers with the length of the body it read."""

    async def answer(self, request: Request, channel: Channel) -> None:
        body = await channel.body(request, max_bytes=LIMITS.max_request_bytes, timeout=5)
        await channel.respond(200, [("content-type", "text/plain")], str(len(body)).encode())


def _scope(length: int | None) -> AsgiScope:
    headers = [(b"host", b"x")]
    headers += (
        [(b"content-length", str(length).encode())] if length is not None else [(b"transfer-encoding", b"chunked")]
    )
    return {"type": "http", "method": "PUT", "path": "/x", "raw_path": b"/x", "query_string": b"", "headers": headers}


async def _request(app: Any, length: int | None, pieces: list[bytes], held: asyncio.Event | None = None) -> list[Any]:
    """Run one request through the ASGI app; its body arrives in `pieces`, the last only once `held` is set."""
    sent: list[Any] = []
    queue = list(pieces)

    async def receive() -> dict[str, Any]:
        if len(queue) == 1 and held is not None:
            await held.wait()
        piece = queue.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(queue)}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(_scope(length), receive, send)
    return sent


def test_request_bodies_held_at_once_are_capped_across_connections() -> None:
    """A stalled body holds its announced length; the next body that would pass the cap is a 503 problem
    with Retry-After at once, and once the first is answered its bytes are free again."""
    app = asgi_app(_Echo(), dataclasses.replace(LIMITS, max_buffered_request_bytes=100))

    async def scenario() -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        release = asyncio.Event()
        stalled = asyncio.ensure_future(_request(app, 80, [b"a" * 40, b"a" * 40], release))
        await asyncio.sleep(0.01)
        refused = await _request(app, 30, [b"b" * 30])
        chunked = await _request(app, None, [b"c" * 15, b"c" * 15, b""])  # counted as it arrives
        release.set()
        first = await stalled
        after = await _request(app, 30, [b"b" * 30])
        return first, refused, chunked, after

    first, refused, chunked, after = asyncio.run(scenario())
    assert first[0]["status"] == 200
    assert refused[0]["status"] == 503
    headers = {name.lower(): value for name, value in refused[0]["headers"]}
    assert headers[b"retry-after"] == b"1"
    assert headers[b"content-type"] == b"application/problem+json"
    assert orjson.loads(refused[1]["body"])["type"] == "/problems/server-busy"
    assert chunked[0]["status"] == 503
    assert after[0]["status"] == 200
    assert after[1]["body"] == b"30"


def test_lead_metadata_held_in_all_is_capped_and_a_lead_at_its_limits_counts_in_full(
    client: FlaskClient, store: LeadStore
) -> None:
    """Metadata at the key limit, each value large: its whole cost counts, and the write that would pass
    the budget is the documented 409 metadata-full, changing nothing; removing metadata frees budget."""
    metadata: dict[str, list[list[int]]] = {
        f"key_{index:03d}": [[] for _ in range(20)] for index in range(LIMITS.max_metadata_keys)
    }
    body = orjson.dumps({"metadata": metadata})
    assert client.put("/lead/ld_123", headers=AUTH, data=body, content_type="application/json").status_code == 200
    cost = metadata_cost(store._leads["ld_123"].metadata)
    assert cost > len(orjson.dumps(metadata))  # counted in full: text and per-key overhead
    limits = dataclasses.replace(store._limits, max_lead_metadata_bytes=store._lead_metadata_bytes + cost // 2)
    store.set_limits(limits)
    other = next(
        lead["lead_id"]
        for lead in store.list_leads(DEFAULT, LeadQuery(limit=5))["leads"]
        if lead["lead_id"] != "ld_123"
    )
    before = client.get(f"/lead/{other}", headers=AUTH).get_json()
    refused = client.put(f"/lead/{other}", headers=AUTH, data=body, content_type="application/json")
    assert refused.status_code == 409
    assert problem(refused)["type"] == "/problems/metadata-full"
    assert client.get(f"/lead/{other}", headers=AUTH).get_json() == before
    patched = client.patch(
        f"/lead/{other}/metadata",
        headers=AUTH,
        data=body[len(b'{"metadata":') : -1],
        content_type="application/merge-patch+json",
    )
    assert patched.status_code == 409
    emptied = client.put("/lead/ld_123", headers=AUTH, json={"metadata": {}})
    assert emptied.status_code == 200
    assert client.put(f"/lead/{other}", headers=AUTH, data=body, content_type="application/json").status_code == 200
    assert client.get(f"/lead/{other}", headers=AUTH).get_json()["metadata"] == metadata


def test_a_body_of_more_values_than_the_mock_reads_is_a_413_before_any_schema_check(client: FlaskClient) -> None:
    """349,000 empty arrays in 1 MiB cost seconds of the only thread in the schema validator's errors;
    refused during the walk, as soon as the count passes `max_json_values`, they cost a parse."""
    count = (LIMITS.max_request_bytes - 100) // 3
    for field in ("aliases", "zz", "metadata"):
        body = b'{"event_type":"page_view","email":"a@b.co","' + field.encode() + b'":['
        body += b",".join([b"[]"] * count) + b"]}"
        started = time.thread_time()  # CPU of this thread (the test client runs the app in it), not wall time
        response = client.post("/ingest", headers=AUTH, data=body, content_type="application/json")
        took = time.thread_time() - started
        assert response.status_code == 413, field
        assert problem(response)["type"] == "/problems/payload-too-large"
        assert took < 1.0, f"{field}: {took:.2f} s of CPU"


def test_a_large_body_of_one_form_is_judged_by_that_form_alone(client: FlaskClient) -> None:
    """jsonschema-rs collects every alternative's errors for a oneOf: 30,000 bad aliases in an ingest cost
    1.5 s of CPU and 74 MB before their 400; judged by the one form the body names, a fraction of that."""
    body = '{"event_type":"page_view","aliases":' + json.dumps([[] for _ in range(30_000)]) + "}"
    tracemalloc.start()
    started = time.thread_time()
    try:
        response = client.post("/ingest", headers=AUTH, data=body, content_type="application/json")
        took = time.thread_time() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 400
    assert [error["name"] for error in problem(response)["errors"]] == ["/aliases"]
    assert peak < 30_000_000, f"{peak / 1e6:.1f} MB"
    assert took < 1.0, f"{took:.2f} s of CPU"
