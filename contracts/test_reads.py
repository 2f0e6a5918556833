"""Semantic contracts that only read: safe against any deployment, with or without LEADVIBE_ALLOW_WRITES.

Each property is a Hypothesis test built inside the pytest test from the run's contract (enums, bounds),
so nothing is read from the spec at import time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from contracts.probes import CLOCK_SKEW, Walk, listing, now, send, served, show, walk_pages
from contracts.run import Run
from contracts.timestamps import format_timestamp, parse_timestamp
from contracts.verdict import Findings, expect, expect_status
from leadvibe_contract.examples import example_request
from leadvibe_contract.windows import window


def test_singular_and_plural_paths_read_the_same_lead(run: Run, lead_ids: list[str]) -> None:
    for lead_id in lead_ids[:10]:
        for _ in range(2):  # a deployment with traffic may change a lead between two reads: read twice
            singular = run.client.request("GET", f"/lead/{lead_id}", token=run.token)
            plural = run.client.request("GET", f"/leads/{lead_id}", token=run.token)
            if singular.text == plural.text:
                break
        expect_status(singular, 200, "singular_equals_plural", f"a listed lead {lead_id} cannot be read")
        expect(singular.json() == plural.json(), "singular_equals_plural", "the two paths differ", singular, plural)
        expect(
            singular.json()["lead_id"] == lead_id, "singular_equals_plural", "body lead_id is not the path's", singular
        )
    missing = f"lvc-missing-{run.target.run_id}"
    for path in (f"/lead/{missing}", f"/leads/{missing}"):
        expect_status(run.client.request("GET", path, token=run.token), 404, "singular_equals_plural", path)


def _honours(lead: dict[str, Any], params: dict[str, Any]) -> str | None:
    """Which filter a listed lead breaks, if any (time filters with a tolerance for clock skew)."""
    score, moment = lead["score"], now()
    if score < params.get("min_score", 0) or score > params.get("max_score", score):
        return f"score {score} outside [{params.get('min_score')}, {params.get('max_score')}]"
    for name, field in (("last_active", "last_event_at"), ("range", "created_at")):
        if name not in params:
            continue
        span = window(params[name], moment)
        value = lead.get(field)  # a null field may be left out (openapi.yaml, info.x-decisions)
        if value is None or not span.start - CLOCK_SKEW <= parse_timestamp(value) < span.end + CLOCK_SKEW:
            return f"{field} {value} is not within {name}={params[name]}"
    return None


DRAWN_PAGE_SIZE = 100


def test_list_pagination_is_consistent_and_filters_are_honoured(run: Run, quiet: None) -> None:
    operation = run.contract.operations["listLeads"]
    limit = operation.parameter("limit").schema
    filters = st.fixed_dictionaries(
        {},
        optional={
            "min_score": st.integers(0, 120),
            "max_score": st.integers(60, 400),
            "last_active": st.sampled_from(operation.parameter("last_active").enum),
            "range": st.sampled_from(operation.parameter("range").enum),
        },
    )

    @run.settings(15)
    @example(limit=7, params={})  # several pages of the whole list, on every run
    # The docs state no maximum for /leads: sizes up to the events list's documented 100 are drawn.
    @given(limit=st.integers(limit["minimum"], DRAWN_PAGE_SIZE), params=filters)
    def pages_are_consistent(limit: int, params: dict[str, Any]) -> None:
        show(limit=limit, params=params)
        run.reset()
        if params.get("min_score", 0) > params.get("max_score", 10**9):
            params["max_score"] = params["min_score"]
        asked = f"limit={limit}, {params}"
        previous: Walk | None = None
        moved = False
        for _ in range(3):  # other writers can legitimately move leads between pages: walk again
            walk = walk_pages(run, params, limit, max_pages=6)
            ids = [lead["lead_id"] for lead in walk.leads]
            if (len(walk.totals) == 1 and len(ids) == len(set(ids))) or not run.target.live:
                moved = False
                break
            # Two walks answered alike: nothing moved between them, so the walk disagrees with itself.
            moved = previous is None or walk.bodies() != previous.bodies()
            if not moved:
                break
            previous = walk
        for number, page in enumerate(walk.pages, start=1):  # what holds of each page, whoever writes
            leads, per_page = page.json()["leads"], served(page.json(), limit)
            expected = min(per_page, max(0, page.json()["total"] - (number - 1) * per_page))
            expect(len(leads) == expected, "list_pagination", f"page {number} holds {len(leads)} ({asked})", page)
            order = [(-lead["score"], lead["lead_id"]) for lead in leads]
            expect(order == sorted(order), "list_pagination", f"not ordered by score, then lead_id ({asked})", page)
            for lead in leads:
                broken = _honours(lead, params)
                expect(broken is None, "list_filters", f"{lead['lead_id']}: {broken} ({asked})", page)
        if moved:  # what holds across pages cannot be judged while others write: said, not failed
            run.note("list_pagination: other writers changed the leads during 3 walks in a row; judged page by page")
            return
        expect(len(walk.totals) == 1, "list_pagination", f"total changed while paging ({asked})", *walk.pages)
        expect(len(ids) == len(set(ids)), "list_pagination", f"a lead on two pages ({asked})", *walk.pages)
        order = [(-lead["score"], lead["lead_id"]) for lead in walk.leads]
        expect(order == sorted(order), "list_pagination", f"pages out of order ({asked})", *walk.pages)

    pages_are_consistent()


def test_score_history_honours_days_ruleset_and_dates(run: Run, lead_ids: list[str]) -> None:
    days = run.contract.operations["getScoreHistory"].parameter("days").schema

    @run.settings(12)
    @given(
        index=st.integers(0, 9),
        days=st.integers(days["minimum"], days["maximum"]),
        ruleset=st.sampled_from([None, "ruleset_default", "ruleset_product"]),
        span_hours=st.integers(1, 72),
        end_hours_ago=st.integers(0, 24 * 60),
    )
    def history_follows_the_query(
        index: int, days: int, ruleset: str | None, span_hours: int, end_hours_ago: int
    ) -> None:
        path = f"/lead/{lead_ids[index % len(lead_ids)]}/score-history"
        extra = {"ruleset_id": ruleset} if ruleset else {}
        relative = run.client.request("GET", path, token=run.token, params={"days": days, **extra})
        expect_status(relative, 200, "score_history_window", "a relative window")
        body = relative.json()
        period = parse_timestamp(body["period"]["end"]) - parse_timestamp(body["period"]["start"])
        expect(abs(period - timedelta(days=days)) <= timedelta(seconds=1), "score_history_window", "period", relative)
        end = now() - timedelta(hours=end_hours_ago)
        start = end - timedelta(hours=span_hours)
        dates = {"start_date": format_timestamp(start), "end_date": format_timestamp(end)}
        absolute = run.client.request("GET", path, token=run.token, params={**dates, **extra})
        expect_status(absolute, 200, "score_history_window", "an absolute window")
        snapshots = absolute.json()["snapshots"]
        expect(absolute.json()["count"] == len(snapshots), "score_history_window", "count != snapshots", absolute)
        low, high = parse_timestamp(dates["start_date"]), parse_timestamp(dates["end_date"])
        for snapshot in snapshots:
            moment = parse_timestamp(snapshot["snapshot_at"])
            expect(low <= moment <= high, "score_history_window", f"{snapshot} outside the dates", absolute)
            expect(moment.minute == moment.second == 0, "score_history_window", f"{snapshot} not on the hour", absolute)
            # `ruleset_id` on a snapshot is optional (docs §8): judged only where the deployment sends it.
            shown = snapshot.get("ruleset_id", ruleset)
            expect(ruleset in (None, shown), "score_history_window", "another ruleset", absolute)
        # Days beside both dates, and dates that end before they start: the docs name neither (§15). The mock
        # answers both with a 200 (openapi.yaml's decisions); a deployment may refuse them with its documented 400.
        allowed = (200, 400) if run.target.live else (200,)
        both = run.client.request("GET", path, token=run.token, params={**dates, "days": days, **extra})
        expect(both.status in allowed, "score_history_window", f"{both.status} for days beside dates", both)
        swapped = {"start_date": dates["end_date"], "end_date": dates["start_date"], **extra}
        reversed_window = run.client.request("GET", path, token=run.token, params=swapped)
        expect(reversed_window.status in allowed, "score_history_window", "a reversed window", reversed_window)
        if reversed_window.status == 200:  # no snapshot can lie after its start and before its end
            expect(reversed_window.json()["snapshots"] == [], "score_history_window", "reversed", reversed_window)

    history_follows_the_query()


def test_score_explain_honours_hours(run: Run, lead_ids: list[str]) -> None:
    @run.settings(10)
    # The docs bound `hours` neither way (§7): windows of up to 60 days are drawn, and `range_hours`, the
    # documented "window actually used", may be smaller than asked (the mock clamps at 30 days).
    @given(index=st.integers(0, 9), asked=st.integers(1, 24 * 60))
    def explains_the_window(index: int, asked: int) -> None:
        path = f"/lead/{lead_ids[index % len(lead_ids)]}/score-explain"
        response = run.client.request("GET", path, token=run.token, params={"hours": asked})
        expect_status(response, 200, "score_explain_window", "an explanation")
        body = response.json()
        used = body["range_hours"]
        expect(1 <= used <= asked, "score_explain_window", f"range_hours {used} for hours={asked}", response)
        # Docs §7: sorted by absolute contribution, largest first (a negative rule can drive a score too).
        totals = [abs(driver["total"]) for driver in body["top_drivers"]]
        expect(totals == sorted(totals, reverse=True), "score_explain_window", "drivers not by |total|", response)
        for driver in body["top_drivers"]:
            expect(driver["total"] == driver["count"] * driver["weight"], "score_explain_window", f"{driver}", response)

    explains_the_window()


def test_reads_without_a_valid_token_are_401_with_a_challenge(run: Run, lead_ids: list[str]) -> None:
    findings = Findings()  # every operation and token is checked, whatever fails first
    for operation in run.contract.operations_where(write=False):
        request = example_request(run.contract, operation.operation_id, lead_id=lead_ids[0])
        for token in (None, f"kbn_pat_invalid_{run.target.run_id}"):
            response = send(run.client, request, token)
            findings.expect(response.status == 401, "requires_auth", f"{request.label} with token {token!r}", response)
            challenge = response.headers.get("www-authenticate", "")
            # The docs name no challenge: any is valid from a deployment; the mock's starts with Bearer.
            findings.expect(
                run.target.live or challenge.startswith("Bearer"),
                "requires_auth",
                f"{request.label}: no Bearer challenge",
                response,
            )
    findings.check()


def test_leads_of_one_ou_are_invisible_to_another_on_every_read(
    run: Run, lead_ids: list[str], other_tokens: tuple[str, ...]
) -> None:
    reads = [op for op in run.contract.operations_where(write=False) if op.names_a_lead]
    findings = Findings()
    mine_listed, my_pages = listing(run, run.token)
    for other_token in other_tokens:
        mine = set(lead_ids) | set(mine_listed)
        listed, their_pages = listing(run, other_token)
        theirs = set(listed)
        shared = sorted(mine & theirs)[:5]
        findings.expect(not shared, "ou_isolation", f"both tokens list {shared}", *my_pages[:1], *their_pages[:1])
        for lead_id in lead_ids[:5]:
            for operation in reads:
                request = example_request(run.contract, operation.operation_id, lead_id)
                response = send(run.client, request, other_token)
                findings.expect(response.status == 404, "ou_isolation", f"another OU's lead {lead_id}", response)
        for lead_id in sorted(theirs)[:5]:
            response = run.client.request("GET", f"/lead/{lead_id}", token=run.token)
            findings.expect(response.status == 404, "ou_isolation", f"the other token's lead {lead_id}", response)
    findings.check()
