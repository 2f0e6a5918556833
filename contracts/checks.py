"""Custom Schemathesis checks: contract rules a schema cannot express, each a small function with one job.

`contract_checks(contract)` binds them to one contract; the run passes them to every generated case
beside Schemathesis' built-in checks (nothing is registered process-wide). They fail as
`Custom check failed: <name>` with the reason and a curl reproducer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from schemathesis import CheckContext, Response
from schemathesis.generation.case import Case as _Case

from contracts.timestamps import parse_timestamp
from leadvibe_contract.contract import Contract, OperationSpec

Case = _Case[Any]
Check = Callable[[CheckContext, Response, Case], bool | None]
CLOCK_SKEW = timedelta(minutes=5)


def _operation_id(case: Case) -> str:
    return str(case.operation.definition.raw.get("operationId", ""))


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


def _operation(contract: Contract, case: Case) -> OperationSpec | None:
    return contract.operations.get(_operation_id(case))


def _query(contract: Contract, case: Case, name: str) -> Any:
    """A query parameter as sent, or its default in the spec when it was not sent."""
    value = (case.query or {}).get(name)
    operation = _operation(contract, case)
    if value is not None or operation is None:
        return value
    return next((p.default for p in operation.parameters if p.name == name and p.location == "query"), None)


def _typed(operation: OperationSpec, query: dict[str, Any]) -> dict[str, Any] | None:
    """The sent query parameters as the rules compare them; None when one cannot be read."""
    typed: dict[str, Any] = {}
    for parameter in operation.parameters:
        if parameter.location != "query" or query.get(parameter.name) is None:
            continue
        value = query[parameter.name]
        try:
            if parameter.format == "date-time":
                value = parse_timestamp(str(value))
            elif parameter.json_type in ("integer", "number"):
                value = float(value)
        except ValueError:
            return None
        typed[parameter.name] = value
    return typed


def _is_positive(case: Case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


ERROR_MEDIA_TYPES = ("application/problem+json", "application/json")


def media_type_of(response: Response) -> str:
    return response.headers.get("content-type", [""])[0].split(";")[0].strip().lower()


def problem_details_on_errors(contract: Contract, ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error, documented or not (405, 413, 415 ...), is a JSON object; one that says it is an RFC 9457
    problem document is one, with its own status. (The docs give no error body, so a deployment may send
    plain `application/json`; the mock sends problem documents: `exactly_the_declared_fields`.)"""
    if response.status_code < 400:
        return None
    media_type = media_type_of(response)
    assert media_type in ERROR_MEDIA_TYPES, f"a {response.status_code} is served as {media_type!r}"
    body = _json(response)
    assert isinstance(body, dict), "the error body is not a JSON object"
    if media_type == ERROR_MEDIA_TYPES[0]:
        assert body.get("status") == response.status_code, f"problem status {body.get('status')!r} differs from HTTP"
        for member in ("type", "title", "detail"):
            assert isinstance(body.get(member), str), f"the problem has no {member!r}"
    return None


def lead_id_matches_path(contract: Contract, ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A body about one lead is about the lead the path names."""
    operation = _operation(contract, case)
    names = [p.name for p in operation.places if p.location == "path" and p.identifies == "lead"] if operation else []
    path_lead = (case.path_parameters or {}).get(names[0]) if names else None
    body = _json(response)
    if path_lead is None or not 200 <= response.status_code < 300 or not isinstance(body, dict):
        return None
    if "lead_id" in body:  # an id taken from a link may reach the case percent-encoded (`:` as %3A)
        named = {str(path_lead), unquote(str(path_lead))}
        assert body["lead_id"] in named, f"body lead_id {body['lead_id']!r} for path lead {path_lead!r}"
    return None


def list_page_matches_request(contract: Contract, ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """GET /leads echoes the page and limit asked for, never returns more, and honours the score bounds."""
    body = _json(response)
    if _operation_id(case) != "listLeads" or response.status_code != 200 or not isinstance(body, dict):
        return None
    page, limit = _integer(_query(contract, case, "page")), _integer(_query(contract, case, "limit"))
    query = case.query or {}
    # Docs §9: pagination metadata is promised "when page or limit is provided"; without either, a
    # deployment may leave it out (the mock always sends it: the closed-schema check holds it to that).
    # A page may hold fewer than asked (the docs give no maximum, a deployment may cap it): the envelope's
    # `limit` is then the cap, never more than asked.
    asked = limit or 0
    echoed = body.get("limit", asked)
    if "page" in query or "limit" in query or "page" in body or "limit" in body:
        assert body.get("page") == page, f"page {page} not echoed"
        assert isinstance(echoed, int), f"limit {echoed!r} is not a number"
        assert 1 <= echoed <= asked, f"limit {echoed} for a limit of {asked}"
    leads = body.get("leads", [])
    assert len(leads) <= min(asked, echoed), f"{len(leads)} leads on a page of {echoed}"
    low, high = _integer(_query(contract, case, "min_score")), _integer(_query(contract, case, "max_score"))
    for lead in leads:
        score = lead.get("score", 0)
        assert low is None or score >= low, f"{lead.get('lead_id')} has score {score} < min_score {low}"
        assert high is None or score <= high, f"{lead.get('lead_id')} has score {score} > max_score {high}"
    return None


def score_history_honours_query(contract: Contract, ctx: CheckContext, response: Response, case: Case) -> bool | None:
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
        shown = {s["ruleset_id"] for s in snapshots if "ruleset_id" in s}  # optional on a snapshot (docs §8)
        assert shown <= {ruleset}, f"snapshots of other rulesets than {ruleset}"
    query = case.query or {}
    if "start_date" not in query and "end_date" not in query:
        days = _integer(_query(contract, case, "days")) or 0
        assert abs((end - start) - timedelta(days=days)) <= timedelta(seconds=1), f"period is not {days} days"
    for name, bound in (("start_date", start), ("end_date", end)):  # shown in whole seconds or finer (§8)
        if name in query:
            asked = parse_timestamp(str(query[name]))
            assert abs(asked - bound) < timedelta(seconds=1), f"period does not follow {name}"
    return None


def score_explain_honours_hours(contract: Contract, ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """The explanation says the window it used (`range_hours`, docs §7): at least an hour, and never more
    than asked (the docs bound `hours` neither way, so a deployment may clamp it, as the mock does)."""
    body = _json(response)
    if _operation_id(case) != "getScoreExplain" or response.status_code != 200 or not isinstance(body, dict):
        return None
    hours, used = _integer(_query(contract, case, "hours")) or 0, body.get("range_hours")
    assert isinstance(used, int), f"range_hours {used!r} is not a number"
    assert used >= 1, f"range_hours {used} for hours={hours}"
    assert hours < 1 or used <= hours, f"range_hours {used} for hours={hours}"
    return None


CHECKS = (
    problem_details_on_errors,
    lead_id_matches_path,
    list_page_matches_request,
    score_history_honours_query,
    score_explain_honours_hours,
)


def contract_checks(contract: Contract) -> list[Check]:
    """Every check of this module, bound to one contract (named as the function for the report)."""

    def bind(check: Callable[[Contract, CheckContext, Response, Case], bool | None]) -> Check:
        @functools.wraps(check)
        def bound(ctx: CheckContext, response: Response, case: Case) -> bool | None:
            return check(contract, ctx, response, case)

        return bound

    return [bind(check) for check in CHECKS]
