"""`leadvibe-contracts` against what a shared staging does: it never touches data it does not own, never
leaks a secret, stays within its budget, leaves nothing behind, and tells an unavailable or lagging
target from a broken contract. Each scenario runs the real command in a subprocess against the correct
mock behind a fault (tests/live/faults.py); scenarios run three at a time. The living-staging scenarios
(other runs, other writers, a binding rate) are test_living_staging.py's."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.live.faults import Faults, FaultyTarget
from tests.live.runs import (
    BASIC,
    BASIC_HEADER,
    EDGE,
    ONE,
    SCOPE,
    TOKEN,
    WRITERS,
    Result,
    gate,
    run_scenarios,
    wait_for_ingests,
)

pytestmark = pytest.mark.slow


def _interrupt(process: subprocess.Popen[Any], target: FaultyTarget) -> None:
    wait_for_ingests(target, 2)
    process.send_signal(signal.SIGTERM)


def _twice_ctrl_c(process: subprocess.Popen[Any], target: FaultyTarget) -> None:
    """Ctrl-C in a terminal: SIGINT to the whole process group, and again while the run cleans up."""
    wait_for_ingests(target, 2)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)


SCENARIOS: dict[str, Callable[[Path], Result]] = {
    "twice_ctrl_c": lambda tmp: gate(tmp, Faults(latency=0.01), args=WRITERS, during=_twice_ctrl_c),
    "lying_by_alias": lambda tmp: gate(tmp, Faults(lying_by_alias=True), env=ONE, args=WRITERS),
    "echoed_credentials": lambda tmp: gate(
        tmp,
        Faults(echo_credentials=True),
        writes=False,
        env={"LEADVIBE_BASIC_CREDENTIALS": f"{BASIC[0]}:{BASIC[1]}", **ONE},
        args=("-k", "org-units or service_credentials"),
    ),
    "budget": lambda tmp: gate(
        tmp, Faults(), env={"LEADVIBE_MAX_REQUESTS": "200", "LEADVIBE_RATE_LIMIT": "100"}, args=WRITERS
    ),
    "transient": lambda tmp: gate(
        tmp, Faults(transient_rate=0.02, async_ingest=0.3), env=ONE, args=("-k", "test_reads or test_writes")
    ),
    "unavailable": lambda tmp: gate(tmp, Faults(always_unavailable_after=30), writes=False, env=ONE),
    "html_edge": lambda tmp: gate(tmp, Faults(html_edge_methods=frozenset({"TRACE"})), env=ONE, args=EDGE),
    "html_edge_probes_off": lambda tmp: gate(
        tmp, Faults(html_edge_methods=frozenset({"TRACE"})), env={"LEADVIBE_PROBE_METHODS": "0", **ONE}, args=EDGE
    ),
    "dropped_ingest": lambda tmp: gate(tmp, Faults(drop_ingest=True), env=ONE, args=WRITERS),
    "lag_strict": lambda tmp: gate(tmp, Faults(lag=1.0), env=ONE, args=("-k", "put_writes")),
    "lag_tolerated": lambda tmp: gate(
        tmp, Faults(lag=1.0), env={"LEADVIBE_CONSISTENCY_WINDOW": "3", **ONE}, args=("-k", "put_writes")
    ),
    "sigterm": lambda tmp: gate(tmp, Faults(latency=0.01), args=WRITERS, during=_interrupt),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    return run_scenarios(SCENARIOS, tmp_path_factory)


def test_a_lying_by_alias_never_gets_a_foreign_lead_written(results: dict[str, Result]) -> None:
    result = results["lying_by_alias"]
    assert result.code == 1, result.output[-3000:]
    assert "ownership" in result.output
    assert not result.writes_to_seeded_leads()
    assert result.target.variant.store.lead_count() >= 76
    assert result.target.variant.store.get_lead(SCOPE, "ld_123")["owner_name"] == "Jane Smith"


def test_no_credential_appears_in_any_output_or_report(results: dict[str, Result]) -> None:
    result = results["echoed_credentials"]
    assert result.code == 1, result.output[-3000:]
    assert "[REDACTED]" in result.output + result.junit  # the echo was there, and was masked
    assert TOKEN not in result.output
    assert TOKEN not in result.junit
    assert "ST101" in result.summary  # the summary has the failure ...
    assert "/received" in result.summary  # ... the drift report has the echoing field ...
    assert TOKEN not in result.summary  # ... and neither has the credential
    assert '-H "Authorization: Bearer $LEADVIBE_TOKEN"' in result.summary  # its reproducers paste like the output's
    everything = result.output + result.junit + result.summary
    assert "basic_auth" in everything  # the service credentials were sent, and echoed back ...
    assert BASIC[1] not in everything  # ... but neither the secret nor the Basic header appears
    assert BASIC_HEADER not in everything
    # Schemathesis' reproducers paste into a shell that has the token, like the gate's own.
    assert "Authorization: [Filtered]" not in result.output  # (a generated activeOu cookie stays filtered)
    assert '-H "Authorization: Bearer $LEADVIBE_TOKEN"' in result.output


def test_the_request_budget_is_never_exceeded_and_cleanup_keeps_its_reserve(results: dict[str, Result]) -> None:
    result = results["budget"]
    assert len(result.target.requests) <= 200
    assert "budget" in result.output
    assert result.code == 4, result.output[-3000:]  # incomplete, not "contract broken"
    assert result.target.variant.store.lead_count() == 76  # clean-up still ran, on its reserve
    times = sorted(r.at for r in result.target.requests)
    fastest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert fastest <= 100  # LEADVIBE_RATE_LIMIT=100: no burst beyond it, probes included


def test_a_correct_deployment_with_transient_answers_and_a_queued_ingest_passes(results: dict[str, Result]) -> None:
    result = results["transient"]
    assert result.code == 0, result.output[-4000:]
    assert "retried:" in result.output
    assert "## Retries" in result.summary
    assert "verdict: passed" in result.output
    assert result.target.variant.store.lead_count() == 76


def test_a_target_that_stays_unavailable_gets_its_own_verdict(results: dict[str, Result]) -> None:
    result = results["unavailable"]
    assert result.code == 3, result.output[-3000:]
    assert "verdict: target unavailable" in result.output


def test_an_edge_answering_html_405s_fails_only_the_method_test(results: dict[str, Result]) -> None:
    result = results["html_edge"]
    assert result.code == 1, result.output[-3000:]
    assert "test_undeclared_methods_are_405_with_allow" in result.junit
    failed = [line for line in result.output.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert failed
    assert all("test_undeclared_methods" in line for line in failed), failed
    assert results["html_edge_probes_off"].code == 0, results["html_edge_probes_off"].output[-3000:]


def test_an_ingest_that_drops_events_fails_fast_naming_the_contract(results: dict[str, Result]) -> None:
    result = results["dropped_ingest"]
    assert result.code == 1, result.output[-3000:]
    assert "ingest_creates_lead" in result.output
    assert "blocked" in result.output  # the dependent tests say why they did not run
    assert result.seconds < 60  # LEADVIBE_WAIT_TIMEOUT=5: the wait happens once, not per test


def test_read_after_write_lag_is_a_failure_unless_tolerated(results: dict[str, Result]) -> None:
    assert results["lag_strict"].code == 1, results["lag_strict"].output[-3000:]
    assert "write_persists" in results["lag_strict"].output
    assert results["lag_tolerated"].code == 0, results["lag_tolerated"].output[-3000:]


def test_sigterm_cleans_up_reports_and_says_so(results: dict[str, Result]) -> None:
    result = results["sigterm"]
    assert result.code == 4, result.output[-3000:]
    assert "verdict: interrupted" in result.output
    assert "<testsuite" in result.junit
    assert result.target.variant.store.lead_count() == 76


def test_ctrl_c_twice_is_an_interruption_in_junit_and_the_summary_alike(results: dict[str, Result]) -> None:
    result = results["twice_ctrl_c"]
    assert result.code == 4, result.output[-3000:]
    assert "verdict: interrupted" in result.output
    assert "INTERNALERROR" not in result.output, result.output[-3000:]
    assert "<failure" not in result.junit, result.junit[-3000:]
    assert "KeyboardInterrupt" not in result.junit
    assert '"exit_status": 4' in result.summary
    assert result.target.variant.store.lead_count() == 76
