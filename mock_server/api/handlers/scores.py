"""Handlers of the score operations: explanation and history."""

from __future__ import annotations

from datetime import timedelta

from mock_server.api.handlers import Call, Reply, handles
from mock_server.leads.timeutil import MIN_TIME
from mock_server.limits import LIMITS


@handles("getScoreExplain")
def get_score_explain(call: Call) -> Reply:
    """The docs bound `hours` neither way: the mock clamps it, and `range_hours` says the window used."""
    request = call.request
    hours = max(1, min(request.query["hours"], LIMITS.max_explain_hours))
    return Reply(200, call.store.score_explain(call.scope, request.path["leadID"], hours))


@handles("getScoreHistory")
def get_score_history(call: Call) -> Reply:
    """The window is `days` back from now (or from `end_date`), or the dates, which take precedence."""
    query = call.request.query
    now = call.store.now()
    end = query.get("end_date", now)
    days = timedelta(days=query["days"])
    start = query.get("start_date", end - days if end - MIN_TIME > days else MIN_TIME)
    lead_id = call.request.path["leadID"]
    return Reply(200, call.store.score_history(call.scope, lead_id, start, end, query.get("ruleset_id")))


@handles("getLeadScore")
@handles("getLeadScoreByPluralPath")
def get_lead_score(call: Call) -> Reply:
    return Reply(200, call.store.get_score(call.scope, call.request.path["leadID"]))


@handles("listTopLeads")
def list_top_leads(call: Call) -> Reply:
    return Reply(200, call.store.top_leads(call.scope, min(call.request.query["limit"], LIMITS.max_page_size)))


@handles("listScoreGains")
def list_score_gains(call: Call) -> Reply:
    query = call.request.query
    return Reply(200, call.store.score_gains(call.scope, query["range"], min(query["limit"], LIMITS.max_page_size)))
