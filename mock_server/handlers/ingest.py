"""Handler of POST /ingest: the only way leads come into existence."""

from __future__ import annotations

from typing import Any

from mock_server.handlers import Call, Reply, handles
from mock_server.store import IngestRequest
from mock_server.timeutil import parse_timestamp


def _aliases(body: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The preferred `aliases[]`, or the deprecated top-level `alias_kind` / `alias` (still accepted)."""
    if "alias" in body:
        return ((body["alias_kind"], body["alias"]),)
    return tuple((alias["alias_kind"], alias["raw_value"]) for alias in body.get("aliases", []))


@handles("ingestEvent")
def ingest_event(call: Call) -> Reply:
    body = call.request.body
    request = IngestRequest(
        event_type=body["event_type"],
        aliases=_aliases(body),
        lead_id=body.get("lead_id"),
        timestamp=parse_timestamp(body["timestamp"]) if "timestamp" in body else None,
        metadata=body.get("metadata", {}),
    )
    return Reply(202, call.store.ingest(call.scope, request))
