"""Custom Schemathesis checks: contract rules a schema cannot express, each a small function with one job.

They run on every generated case, beside Schemathesis' built-in checks, and fail as
`Custom check failed: <name>` with the reason and a curl reproducer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from schemathesis import CheckContext, Response
from schemathesis.generation.case import Case as _Case

from mock_server.spec import load_spec
from mock_server.timeutil import parse_timestamp

Case = _Case[Any]
_SPEC = load_spec()
_DEFAULTS = {
    (operation_id, parameter.name): parameter.default
    for operation_id, operation in _SPEC.operations.items()
    for parameter in operation.parameters
    if parameter.default is not None
}


def _operation_id(case: Case) -> str:
    return str(case.operation.definition.raw.get("operationId", ""))


def _query(case: Case, name: str) -> Any:
    value = (case.query or {}).get(name)
    return _DEFAULTS.get((_operation_id(case), name)) if value is None else value


def _json(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _integer(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def _is_positive(case: Case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.check
def problem_details_on_errors(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error, documented or not (405, 413, 415 ...), is an RFC 9457 problem with its own status."""
    if response.status_code < 400:
        return None
    media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media_type == "application/problem+json", f"a {response.status_code} is served as {media_type!r}"
    body = _json(response)
    assert isinstance(body, dict), "the error body is not a JSON object"
    assert body.get("status") == response.status_code, f"problem status {body.get('status')!r} differs from HTTP"
    for member in ("type", "title", "detail"):
        assert isinstance(body.get(member), str), f"the problem has no {member!r}"
    return None


@schemathesis.check
def lead_id_matches_path(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A body about one lead is about the lead the path names."""
    path_lead = (case.path_parameters or {}).get("leadID")
    body = _json(response)
    if path_lead is None or not 200 <= response.status_code < 300 or not isinstance(body, dict):
        return None
    if "lead_id" in body:
        assert body["lead_id"] == str(path_lead), f"body lead_id {body['lead_id']!r} for path lead {path_lead!r}"
    return None


AMBIGUOUS = "ambiguous"
CLOCK_SKEW = timedelta(minutes=5)


def _breaks_cross_parameter_rule(case: Case) -> str | None:
    """The documented rule a schema-valid request breaks, if any (openapi.yaml, the operations' Decisions).

    `AMBIGUOUS` when it depends on the server's clock (a start_date within minutes of now).
    """
    operation_id = _operation_id(case)
    query = case.query or {}
    if operation_id == "listLeads":
        low, high = _integer(query.get("min_score")), _integer(query.get("max_score"))
        if low is not None and high is not None and low > high:
            return "min_score greater than max_score"
    if operation_id == "getScoreHistory":
        if ("start_date" in query or "end_date" in query) and "days" in query:
            return "days combined with dates"
        try:
            start = parse_timestamp(str(query["start_date"])) if "start_date" in query else None
            end = parse_timestamp(str(query["end_date"])) if "end_date" in query else None
        except ValueError:
            return None
        if start is not None and end is not None and start > end:
            return "start_date after end_date"
        if start is not None and end is None:
            now = datetime.now(UTC)
            if start > now + CLOCK_SKEW:
                return "start_date after now"
            if start > now - CLOCK_SKEW:
                return AMBIGUOUS
    return None


@schemathesis.check
def cross_parameter_rules(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Rules between parameters: broken ones are a 400; a 400 on valid input must cite a broken rule."""
    if _operation_id(case) not in ("listLeads", "getScoreHistory") or not _is_positive(case):
        return None
    broken = _breaks_cross_parameter_rule(case)
    if broken == AMBIGUOUS:
        return None
    if broken is not None:
        assert response.status_code == 400, f"{broken} must be a 400, got {response.status_code}"
    else:
        assert response.status_code != 400, "a 400 for schema-valid input that breaks no documented rule"
    return None


@schemathesis.check
def list_page_matches_request(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """GET /leads echoes the page and limit asked for, never returns more, and honours the score bounds."""
    body = _json(response)
    if _operation_id(case) != "listLeads" or response.status_code != 200 or not isinstance(body, dict):
        return None
    page, limit = _integer(_query(case, "page")), _integer(_query(case, "limit"))
    assert (body.get("page"), body.get("limit")) == (page, limit), f"page/limit {page}/{limit} not echoed"
    leads = body.get("leads", [])
    assert len(leads) <= (limit or 0), f"{len(leads)} leads on a page of {limit}"
    low, high = _integer(_query(case, "min_score")), _integer(_query(case, "max_score"))
    for lead in leads:
        score = lead.get("score", 0)
        assert low is None or score >= low, f"{lead.get('lead_id')} has score {score} < min_score {low}"
        assert high is None or score <= high, f"{lead.get('lead_id')} has score {score} > max_score {high}"
    return None


@schemathesis.check
def score_history_honours_query(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Snapshots lie in the period, oldest first, of the asked ruleset; count counts them; days size it."""
    body = _json(response)
    if _operation_id(case) != "getScoreHistory" or response.status_code != 200 or not isinstance(body, dict):
        return None
    snapshots = body["snapshots"]
    assert body["count"] == len(snapshots), f"count {body['count']} for {len(snapshots)} snapshots"
    start, end = parse_timestamp(body["period"]["start"]), parse_timestamp(body["period"]["end"])
    times = [parse_timestamp(snapshot["snapshot_at"]) for snapshot in snapshots]
    assert times == sorted(times), "snapshots are not oldest first"
    assert all(start <= moment <= end for moment in times), "a snapshot lies outside the period"
    ruleset = (case.query or {}).get("ruleset_id")
    if ruleset is not None:
        assert {s["ruleset_id"] for s in snapshots} <= {ruleset}, f"snapshots of other rulesets than {ruleset}"
    query = case.query or {}
    if "start_date" not in query and "end_date" not in query:
        days = _integer(_query(case, "days")) or 0
        assert abs((end - start) - timedelta(days=days)) <= timedelta(seconds=1), f"period is not {days} days"
    for name, bound in (("start_date", start), ("end_date", end)):
        if name in query:
            assert parse_timestamp(str(query[name])) == bound, f"period does not follow {name}"
    return None


@schemathesis.check
def score_explain_honours_hours(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """The explanation covers the window asked for."""
    body = _json(response)
    if _operation_id(case) != "getScoreExplain" or response.status_code != 200 or not isinstance(body, dict):
        return None
    hours = _integer(_query(case, "hours"))
    assert body["range_hours"] == hours, f"range_hours {body['range_hours']} for hours={hours}"
    return None
