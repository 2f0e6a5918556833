"""Handler of POST /ingest: the only way leads come into existence."""

from __future__ import annotations

from mock_server.handlers import Call, Reply, handles
from mock_server.store import IngestRequest
from mock_server.timeutil import parse_timestamp


@handles("ingestEvent")
def ingest_event(call: Call) -> Reply:
    body = call.request.body
    request = IngestRequest(
        event_type=body["event_type"],
        aliases=tuple((alias["alias_kind"], alias["raw_value"]) for alias in body.get("aliases", [])),
        lead_id=body.get("lead_id"),
        timestamp=parse_timestamp(body["timestamp"]) if "timestamp" in body else None,
        metadata=body.get("metadata", {}),
    )
    return Reply(202, call.store.ingest(call.scope, request))
