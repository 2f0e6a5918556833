"""Handler of POST /ingest: the only way leads come into existence."""

from __future__ import annotations

from typing import Any

from mock_server.api.handlers import Call, Reply, handles
from mock_server.leads.store import IngestRequest
from mock_server.leads.timeutil import parse_timestamp


def _aliases(body: dict[str, Any], form: str | None) -> tuple[tuple[str, str], ...]:
    """The preferred `aliases[]`, or the deprecated top-level `alias_kind` / `alias` (still accepted)."""
    if form == "IngestEventByLegacyAlias":
        return ((body["alias_kind"], body["alias"]),)
    if form == "IngestEventByAliases":
        return tuple((alias["alias_kind"], alias["raw_value"]) for alias in body["aliases"])
    return ()


@handles("ingestEvent")
def ingest_event(call: Call) -> Reply:
    """Fields the event's form does not declare are ignored (request bodies are open, openapi.yaml)."""
    body, form = call.request.body, call.request.form
    request = IngestRequest(
        event_type=body["event_type"],
        aliases=_aliases(body, form),
        lead_id=body["lead_id"] if form == "IngestEventByLeadId" else None,
        timestamp=parse_timestamp(body["timestamp"]) if "timestamp" in body else None,
        metadata=body.get("metadata", {}),
    )
    return Reply(202, call.store.ingest(call.scope, request))
