"""Handlers of the score operations: explanation and history (with the history window's rules)."""

from __future__ import annotations

from datetime import datetime, timedelta

from mock_server.handlers import Call, Reply, handles
from mock_server.problems import FieldError, validation_error
from mock_server.timeutil import parse_timestamp
from mock_server.validation import ValidRequest


@handles("getScoreExplain")
def get_score_explain(call: Call) -> Reply:
    request = call.request
    return Reply(200, call.store.score_explain(call.scope, request.path["leadID"], request.query["hours"]))


@handles("getScoreHistory")
def get_score_history(call: Call) -> Reply:
    request = call.request
    start, end = history_window(request, call.store.now())
    lead_id = request.path["leadID"]
    return Reply(200, call.store.score_history(call.scope, lead_id, start, end, request.query.get("ruleset_id")))


def history_window(request: ValidRequest, now: datetime) -> tuple[datetime, datetime]:
    """The spec's window rules: `days` (default from the spec) or dates, never both; start not after end."""
    query = request.query
    days = timedelta(days=query["days"])
    if "start_date" not in query and "end_date" not in query:
        return now - days, now
    errors = []
    if "days" in request.given:
        errors.append(FieldError("query", "days", "'days' cannot be combined with 'start_date' or 'end_date'"))
    end = parse_timestamp(query["end_date"]) if "end_date" in query else now
    start = parse_timestamp(query["start_date"]) if "start_date" in query else end - days
    if start > end:
        errors.append(FieldError("query", "start_date", "'start_date' must not be after 'end_date' (or now)"))
    if errors:
        raise validation_error(errors)
    return start, end
