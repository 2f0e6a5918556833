"""`leadvibe-contracts` against a living staging: another run from the same checkout, another tool writing to
the same OU, a rate that binds and a slow network. Each scenario runs the real command in a subprocess against
the correct mock behind a fault (tests/live/faults.py); scenarios run three at a time. (The other scenarios are
test_live_gate.py's: two modules, so that make test's workers run them side by side.)"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from mock_server.leads.errors import AliasNotFound
from mock_server.leads.store import LeadStore
from tests.live.faults import Faults, FaultyTarget
from tests.live.runs import ONE, SCOPE, TOKEN, WRITERS, WRITES, Result, gate, launch, run_scenarios, wait_for_ingests

pytestmark = pytest.mark.slow


def _neighbour(rate: float) -> Callable[[subprocess.Popen[Any], FaultyTarget], None]:
    """Another tool ingesting into the same OU at `rate` events per second, new leads and known ones,
    for as long as the run lasts."""

    def start(process: subprocess.Popen[Any], target: FaultyTarget) -> None:
        def write() -> None:
            client = Client(target.variant.app)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            number = 0
            while process.poll() is None:
                number += 1
                alias = f"neighbour-{number % 40}@example.com"  # new leads at first, then events on known ones
                body = {"event_type": "page_view", "aliases": [{"alias_kind": "email", "raw_value": alias}]}
                client.post("/ingest", json=body, headers=headers)
                time.sleep(1 / rate)

        threading.Thread(target=write, daemon=True).start()

    return start


_SECOND: dict[str, Result] = {}


def _second_run(tmp: Path) -> Callable[[subprocess.Popen[Any], FaultyTarget], None]:
    """A second run from the same checkout and state folder, started while the first holds leads."""

    def start(process: subprocess.Popen[Any], target: FaultyTarget) -> None:
        wait_for_ingests(target, 4)
        _SECOND["second"] = launch(tmp, target.base_url, target, env=ONE, args=WRITERS, reports=tmp / "reports-second")

    return start


SCENARIOS: dict[str, Callable[[Path], Result]] = {
    "neighbour": lambda tmp: gate(tmp, Faults(), env=ONE, during=_neighbour(5)),
    "neighbour_pagination": lambda tmp: gate(
        tmp,
        Faults(),
        writes=False,
        env={"LEADVIBE_MAX_EXAMPLES": "5", "LEADVIBE_RATE_LIMIT": "20", **ONE},
        args=("-k", "pagination"),
        during=_neighbour(5),
    ),
    "two_runs": lambda tmp: gate(tmp, Faults(latency=0.005), env=ONE, args=WRITERS, during=_second_run(tmp)),
    "rate_10": lambda tmp: gate(tmp, Faults(), env={"LEADVIBE_RATE_LIMIT": "10"}, args=("-k", "own or after_delete")),
    "latency": lambda tmp: gate(
        tmp,
        Faults(latency=0.15),
        writes=False,
        env={"LEADVIBE_RATE_LIMIT": "40", "LEADVIBE_CONCURRENCY": "4"},
        args=("-k", "score"),
    ),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    return run_scenarios(SCENARIOS, tmp_path_factory)


def test_a_slow_network_gets_a_few_requests_in_flight_within_the_rate(results: dict[str, Result]) -> None:
    """At 150 ms a request, LEADVIBE_CONCURRENCY (4 by default) requests are in flight at once, so the run
    waits on its rate limit rather than on the network; the rate still holds for all of them together.
    (What that saves in time is measured by `make bench`, not here.)"""
    result = results["latency"]
    assert result.code == 0, result.output[-3000:]
    assert "4 in flight" in result.output
    assert 3 <= result.target.most_in_flight <= 4, result.target.most_in_flight
    times = sorted(r.at for r in result.target.requests)
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 40


def test_two_runs_at_once_from_one_checkout_both_pass_and_leave_nothing(results: dict[str, Result]) -> None:
    first, second = results["two_runs"], _SECOND["second"]
    assert first.code == 0, first.output[-3000:]
    assert second.code == 0, second.output[-3000:]
    assert "removed a lead an earlier run left behind" not in first.output + second.output
    assert "in progress: its leads are left to it" in second.output  # the first run's folder, seen and spared
    assert first.target.variant.store.lead_count() == 76
    assert first.junit != second.junit  # each run wrote its own reports


def test_a_neighbour_writing_5_events_a_second_raises_no_false_alarm(results: dict[str, Result]) -> None:
    """The whole suite with writes against the correct mock, while another tool writes: it passes, writes
    only to leads it created and deletes them all again; the neighbour's leads are left alone."""
    for name in ("neighbour", "neighbour_pagination"):
        result = results[name]
        assert result.code == 0, f"{name}\n{result.output[-4000:]}"
    result = results["neighbour"]
    assert {r.method for r in result.target.requests} >= set(WRITES)
    assert not result.writes_to_seeded_leads()
    store = result.target.variant.store
    neighbours = [store.find_by_alias(SCOPE, "email", f"neighbour-{n}@example.com") for n in range(1, 40)]
    assert all(found["lead_id"] for found in neighbours)  # none of the neighbour's leads was touched
    assert store.lead_count() == 76 + len(neighbours) + _found(store, "neighbour-0@example.com")
    assert "passed" in results["neighbour_pagination"].output


def _found(store: LeadStore, email: str) -> int:
    try:
        store.find_by_alias(SCOPE, "email", email)
    except AliasNotFound:
        return 0
    return 1


def test_a_run_at_10_requests_a_second_never_sends_11_in_any_second(results: dict[str, Result]) -> None:
    result = results["rate_10"]
    assert result.code == 0, result.output[-3000:]
    times = sorted(r.at for r in result.target.requests)
    assert len(times) > 30  # writes and consistency sections included
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 10
