"""Semantic contracts that only read: safe against any deployment, with or without LEADVIBE_ALLOW_WRITES."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.conftest import requires_other_token
from contracts.probes import CLOCK_SKEW, contract_settings, listed_lead_ids, now, send, walk_pages
from contracts.run import current_run
from contracts.spec_requests import example_request, lead_operations, parameter_schema
from contracts.verdict import expect, expect_status
from mock_server.timeutil import parse_timestamp

RUN = current_run()
READ_OPERATIONS = sorted(op.operation_id for op in RUN.spec.operations.values() if op.method == "get")


@pytest.fixture(scope="module")
def lead_ids() -> list[str]:
    RUN.reset()
    ids = listed_lead_ids(RUN, RUN.target.token)
    if not ids:
        pytest.skip("the token sees no leads: nothing to read")
    return ids


def test_singular_and_plural_paths_read_the_same_lead(lead_ids: list[str]) -> None:
    for lead_id in lead_ids[:10]:
        for _ in range(2):  # a deployment with traffic may change a lead between two reads: read twice
            singular = RUN.client.request("GET", f"/lead/{lead_id}", token=RUN.target.token)
            plural = RUN.client.request("GET", f"/leads/{lead_id}", token=RUN.target.token)
            if singular.text == plural.text:
                break
        expect_status(singular, 200, "singular_equals_plural", f"a listed lead {lead_id} cannot be read")
        expect(singular.json() == plural.json(), "singular_equals_plural", "the two paths differ", singular, plural)
        expect(
            singular.json()["lead_id"] == lead_id, "singular_equals_plural", "body lead_id is not the path's", singular
        )
    missing = f"lvc-missing-{RUN.target.run_id}"
    for path in (f"/lead/{missing}", f"/leads/{missing}"):
        expect_status(RUN.client.request("GET", path, token=RUN.target.token), 404, "singular_equals_plural", path)


FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "min_score": st.integers(0, 120),
        "max_score": st.integers(60, 400),
        "last_active": st.sampled_from(parameter_schema(RUN.spec, "listLeads", "last_active")["enum"]),
        "range": st.sampled_from(parameter_schema(RUN.spec, "listLeads", "range")["enum"]),
    },
)
HOURS = parameter_schema(RUN.spec, "getScoreExplain", "hours")
DAYS = parameter_schema(RUN.spec, "getScoreHistory", "days")
LIMIT = parameter_schema(RUN.spec, "listLeads", "limit")


def _honours(lead: dict[str, Any], params: dict[str, Any]) -> str | None:
    """Which filter a listed lead breaks, if any (time filters with a tolerance for clock skew)."""
    score, moment = lead["score"], now()
    if score < params.get("min_score", 0) or score > params.get("max_score", score):
        return f"score {score} outside [{params.get('min_score')}, {params.get('max_score')}]"
    if "last_active" in params:
        days = int(params["last_active"][:-1])
        last = lead["last_event_at"]
        if last is None or parse_timestamp(last) < moment - timedelta(days=days) - CLOCK_SKEW:
            return f"last_event_at {last} is not within {days} days"
    if "range" in params and params["range"].startswith("last_"):
        days = int(params["range"][5:-1])
        if parse_timestamp(lead["created_at"]) < moment - timedelta(days=days) - CLOCK_SKEW:
            return f"created_at {lead['created_at']} is not within {days} days"
    return None


@contract_settings(RUN, 15)
@given(limit=st.integers(LIMIT["minimum"], LIMIT["maximum"]), params=FILTERS)
def test_list_pagination_is_consistent_and_filters_are_honoured(limit: int, params: dict[str, Any]) -> None:
    RUN.reset()
    if params.get("min_score", 0) > params.get("max_score", 10**9):
        params["max_score"] = params["min_score"]
    for _ in range(3):  # concurrent traffic can legitimately move leads between pages: retry a walk
        walk = walk_pages(RUN, params, limit, max_pages=6)
        ids = [lead["lead_id"] for lead in walk.leads]
        if len(walk.totals) == 1 and len(ids) == len(set(ids)):
            break
    evidence = walk.pages[-1]
    expect(len(walk.totals) == 1, "list_pagination", f"total changed while paging: {sorted(walk.totals)}", evidence)
    expect(len(ids) == len(set(ids)), "list_pagination", "a lead appeared on two pages", *walk.pages)
    total = walk.totals.pop()
    expect(len(ids) == min(total, limit * len(walk.pages)), "list_pagination", "pages hold too few leads", evidence)
    order = [(-lead["score"], lead["lead_id"]) for lead in walk.leads]
    expect(order == sorted(order), "list_pagination", "leads are not ordered by score, then lead_id", *walk.pages)
    for lead in walk.leads:
        broken = _honours(lead, params)
        expect(broken is None, "list_filters", f"{lead['lead_id']}: {broken}", evidence)


@contract_settings(RUN, 12)
@given(
    index=st.integers(0, 9),
    days=st.integers(DAYS["minimum"], DAYS["maximum"]),
    ruleset=st.sampled_from([None, "ruleset_default", "ruleset_product"]),
    span_hours=st.integers(1, 72),
    end_hours_ago=st.integers(0, 24 * 60),
)
def test_score_history_honours_days_ruleset_and_dates(
    lead_ids: list[str], index: int, days: int, ruleset: str | None, span_hours: int, end_hours_ago: int
) -> None:
    lead_id = lead_ids[index % len(lead_ids)]
    path = f"/lead/{lead_id}/score-history"
    extra = {"ruleset_id": ruleset} if ruleset else {}
    relative = RUN.client.request("GET", path, token=RUN.target.token, params={"days": days, **extra})
    expect_status(relative, 200, "score_history_window", "a relative window")
    body = relative.json()
    period = parse_timestamp(body["period"]["end"]) - parse_timestamp(body["period"]["start"])
    expect(
        abs(period - timedelta(days=days)) <= timedelta(seconds=1), "score_history_window", "period != days", relative
    )
    end = (now() - timedelta(hours=end_hours_ago)).replace(microsecond=0)
    start = end - timedelta(hours=span_hours)
    dates = {"start_date": start.isoformat().replace("+00:00", "Z"), "end_date": end.isoformat().replace("+00:00", "Z")}
    absolute = RUN.client.request("GET", path, token=RUN.target.token, params={**dates, **extra})
    expect_status(absolute, 200, "score_history_window", "an absolute window")
    snapshots = absolute.json()["snapshots"]
    expect(absolute.json()["count"] == len(snapshots), "score_history_window", "count != snapshots", absolute)
    for snapshot in snapshots:
        moment = parse_timestamp(snapshot["snapshot_at"])
        expect(start <= moment <= end, "score_history_window", f"{snapshot} outside the dates", absolute)
        expect(moment.minute == moment.second == 0, "score_history_window", f"{snapshot} not on the hour", absolute)
        expect(
            ruleset in (None, snapshot["ruleset_id"]),
            "score_history_window",
            f"{snapshot} of another ruleset",
            absolute,
        )
    both = RUN.client.request("GET", path, token=RUN.target.token, params={**dates, "days": days})
    expect_status(both, 400, "score_history_window", "days with dates")
    swapped = {"start_date": dates["end_date"], "end_date": dates["start_date"]}
    expect_status(
        RUN.client.request("GET", path, token=RUN.target.token, params=swapped),
        400,
        "score_history_window",
        "start after end",
    )


@contract_settings(RUN, 10)
@given(index=st.integers(0, 9), hours=st.integers(HOURS["minimum"], HOURS["maximum"]))
def test_score_explain_honours_hours(lead_ids: list[str], index: int, hours: int) -> None:
    lead_id = lead_ids[index % len(lead_ids)]
    response = RUN.client.request(
        "GET", f"/lead/{lead_id}/score-explain", token=RUN.target.token, params={"hours": hours}
    )
    expect_status(response, 200, "score_explain_window", "an explanation")
    body = response.json()
    expect(body["range_hours"] == hours, "score_explain_window", f"range_hours is not {hours}", response)
    totals = [driver["total"] for driver in body["top_drivers"]]
    expect(totals == sorted(totals, reverse=True), "score_explain_window", "drivers not largest first", response)
    for driver in body["top_drivers"]:
        expect(driver["total"] == driver["count"] * driver["weight"], "score_explain_window", f"{driver}", response)
    for outside in (HOURS["minimum"] - 1, HOURS["maximum"] + 1):
        bad = RUN.client.request(
            "GET", f"/lead/{lead_id}/score-explain", token=RUN.target.token, params={"hours": outside}
        )
        expect_status(bad, 400, "score_explain_window", f"hours={outside}")


@pytest.mark.parametrize("operation_id", READ_OPERATIONS)
def test_reads_without_a_valid_token_are_401_with_a_challenge(lead_ids: list[str], operation_id: str) -> None:
    request = example_request(RUN.spec, operation_id, lead_id=lead_ids[0])
    for token in (None, f"kbn_pat_invalid_{RUN.target.run_id}"):
        response = send(RUN.client, request, token)
        expect(response.status == 401, "requires_auth", f"{request.label} with token {token!r}", response)
        challenge = response.headers.get("www-authenticate", "")
        expect(challenge.startswith("Bearer"), "requires_auth", "no WWW-Authenticate: Bearer challenge", response)


@requires_other_token
@pytest.mark.parametrize("other", range(len(RUN.other_tokens)))
def test_leads_of_one_ou_are_invisible_to_another_on_every_read(lead_ids: list[str], other: int) -> None:
    other_token = RUN.other_tokens[other]
    mine = set(lead_ids)
    theirs = set(listed_lead_ids(RUN, other_token))
    expect(not mine & theirs, "ou_isolation", f"both tokens list {sorted(mine & theirs)[:5]}")
    reads = [
        op for op in lead_operations(RUN.spec) if op.method == "get" and op.operation_id != "getLeadDeletionStatus"
    ]
    for lead_id in lead_ids[:5]:
        for operation in reads:
            response = send(RUN.client, example_request(RUN.spec, operation.operation_id, lead_id), other_token)
            expect(response.status == 404, "ou_isolation", f"another OU's lead {lead_id} is visible", response)
    for lead_id in sorted(theirs)[:5]:
        response = RUN.client.request("GET", f"/lead/{lead_id}", token=RUN.target.token)
        expect(response.status == 404, "ou_isolation", f"the other token's lead {lead_id} is visible", response)
