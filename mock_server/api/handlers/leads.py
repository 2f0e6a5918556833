"""Handlers of the lead operations: read, update, merge metadata, delete, aliases, lists, by alias."""

from __future__ import annotations

from mock_server.api.handlers import Call, Reply, handles
from mock_server.leads.store import LeadQuery
from mock_server.limits import LIMITS


@handles("getLead")
@handles("getLeadByPluralPath")
def get_lead(call: Call) -> Reply:
    return Reply(200, call.store.get_lead(call.scope, call.request.path["leadID"]))


@handles("updateLead")
def update_lead(call: Call) -> Reply:
    return Reply(200, call.store.update_lead(call.scope, call.request.path["leadID"], call.request.body))


@handles("patchLeadMetadata")
def patch_lead_metadata(call: Call) -> Reply:
    return Reply(200, call.store.patch_metadata(call.scope, call.request.path["leadID"], call.request.body))


@handles("deleteLead")
def delete_lead(call: Call) -> Reply:
    return Reply(200, call.store.delete_lead(call.scope, call.request.path["leadID"]))


@handles("getLeadDeletionStatus")
def get_lead_deletion_status(call: Call) -> Reply:
    return Reply(200, call.store.deletion_status(call.scope, call.request.path["leadID"]))


@handles("listLeadAliases")
def list_lead_aliases(call: Call) -> Reply:
    return Reply(200, call.store.list_aliases(call.scope, call.request.path["leadID"]))


@handles("getLeadByAlias")
def get_lead_by_alias(call: Call) -> Reply:
    query = call.request.query
    return Reply(200, call.store.find_by_alias(call.scope, query["kind"], query["value"]))


@handles("listLeads")
def list_leads(call: Call) -> Reply:
    query = call.request.query
    lead_query = LeadQuery(
        page=query["page"],
        limit=min(query["limit"], LIMITS.max_page_size),  # the docs give no maximum: the mock's own
        min_score=query.get("min_score"),
        max_score=query.get("max_score"),
        event_type=query.get("event_type"),
        last_active=query.get("last_active"),
        created_range=query.get("range"),
    )
    return Reply(200, call.store.list_leads(call.scope, lead_query))


@handles("listLeadEvents")
def list_lead_events(call: Call) -> Reply:
    query = call.request.query
    lead_id = call.request.path["leadID"]
    return Reply(
        200, call.store.list_events(call.scope, lead_id, query["page"], query["limit"], query.get("event_type"))
    )


@handles("setLeadOwner")
def set_lead_owner(call: Call) -> Reply:
    body = call.request.body
    lead_id = call.request.path["leadID"]
    return Reply(200, call.store.set_owner(call.scope, lead_id, body.get("owner_id"), body.get("owner_name")))
