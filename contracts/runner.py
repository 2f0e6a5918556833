"""`leadvibe-contracts` (`make test-live`): the conformance suite against a live deployment.

Configured by environment variables only (see the README). `leadvibe-contracts cleanup` removes the
leads earlier runs left behind (after proving each is still one of theirs) and exits.

Exit status: 0 every contract holds; 1 a contract is broken (or safety refused a write); 2 the
environment does not describe a target; 3 the target is unavailable (unreachable, untrusted TLS, or no
definitive answer after retries); 4 incomplete (interrupted, or the request budget ran out). Writes a
JUnit XML report; no output or report ever contains a credential.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from contracts.client import HttpClient, TokenNames, throttle
from contracts.outcome import EXIT_UNAVAILABLE, EXIT_USAGE, Outcome
from contracts.ownership import Ledger, clean_ledger
from contracts.plugin import RUN_KEY, TargetPlugin
from contracts.preflight import preflight
from contracts.redact import Redactor
from contracts.summary import RunSummary
from contracts.target import Target, TargetError, target_from_env
from contracts.transient import RetryPolicy
from leadvibe_contract.contract import load_contract

SUITE = Path(__file__).parent


class RunReport:
    """What the run did besides passing or failing (refusals, retries, requests), for the console and the
    summary; read from the run at the end of the session."""

    def __init__(self, redact: Redactor, outcome: Outcome) -> None:
        self._redact = redact
        self._outcome = outcome
        self.lines: list[str] = []
        self.retries: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.requests = 0
        self.drift: list[dict[str, Any]] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        run: Any = session.config.stash.get(RUN_KEY, None)
        if run is None:
            return
        if run.throttle is not None:
            self.requests = run.throttle.used
            self.lines.append(f"requests sent: {run.throttle.used} (budget {run.target.max_requests})")
        for entry in run.retries.log if run.retries is not None else []:
            method, _, path = entry["request"].partition(" ")
            self.retries.append({"method": method, "path": path, **entry})
            self.lines.append(f"retried: {entry['request']}: {entry['attempts']} attempts, {entry['waited_s']} s")
        self.notes += run.notes
        if run.drift is not None:
            self.drift = [
                {"operation": item["operation"], "kind": item["kind"], "name": item["what"], "sample": item["sample"]}
                for item in run.drift.report()["drift"]
            ]
        for refusal in run.safety.refused_writes:
            self.lines.append(f"refused write: {refusal}")
        if run.owned is not None:
            for refusal in run.owned.refusals:
                self.lines.append(f"not owned, never written to: {refusal}")

    def extras(self) -> dict[str, Any]:
        verdict, _ = self._outcome.verdict(self._outcome.exitstatus)
        notes = [*self.notes, *self.lines]
        return {
            "retries": self.retries,
            "drift": self.drift,
            "requests": self.requests,
            "notes": notes,
            "verdict": verdict,
        }

    def print(self) -> None:
        for line in self.lines:
            print(self._redact(f"leadvibe-contracts: {line}"), flush=True)


def _terminate_as_interrupt(number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {number}")  # pytest stops, then tears down: clean-up runs


def run_suite(target: Target, report_dir: Path, pytest_args: list[str], previous_report: Path | None = None) -> int:
    redact = Redactor(target.secrets)
    gate = throttle(target.rate_limit, target.max_requests, target.cleanup_reserve)
    problem = preflight(target, gate)
    if problem is not None:
        print(redact(f"leadvibe-contracts: target unavailable: {problem}"), file=sys.stderr)
        return EXIT_UNAVAILABLE
    report_dir.mkdir(parents=True, exist_ok=True)
    junit = report_dir / "contracts-live.xml"
    outcome = Outcome()
    report = RunReport(redact, outcome)
    contract = load_contract(target.spec_path)
    summary = RunSummary(
        report_dir,
        header=target.describe(),
        previous=previous_report or report_dir / "summary.json",
        extras=report.extras,
        redact=redact,
        operations=[operation.label for operation in contract.operations.values()],
    )
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        code = pytest.main(
            [
                str(SUITE),
                f"--rootdir={SUITE.parent}",
                "-p",
                "no:cacheprovider",
                f"--junitxml={junit}",
                "-o",
                "junit_family=xunit2",
                "-o",
                "console_output_style=count",
                "-rfEs",
                *pytest_args,
            ],
            plugins=[TargetPlugin(target, throttle=gate, report_dir=report_dir), redact, outcome, report, summary],
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    report.print()
    verdict, exit_code = outcome.verdict(int(code))
    print(f"leadvibe-contracts: verdict: {verdict}", flush=True)
    print(f"leadvibe-contracts: reports: {junit}, {summary.markdown_path}, {summary.html_path}", flush=True)
    return exit_code


def cleanup(target: Target) -> int:
    """Remove what earlier runs left behind on this deployment (their ledger in LEADVIBE_STATE_DIR)."""
    assert target.base_url is not None
    problem = preflight(target)
    if problem is not None:
        print(f"leadvibe-contracts: target unavailable: {problem}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    ledger = Ledger(target.state_dir / "ledger.jsonl", target.base_url)
    gate = throttle(target.rate_limit, target.max_requests)
    names = TokenNames({target.token: "LEADVIBE_TOKEN"})
    client = HttpClient(
        target.base_url,
        target.request_timeout,
        gate,
        names,
        read_only=False,
        retries=RetryPolicy(attempts=target.retries),
        tls=target.tls,
    )
    removed, left = clean_ledger(client, target.token, ledger)
    for lead in removed:
        print(f"leadvibe-contracts: removed {lead}")
    for lead in left:
        print(f"leadvibe-contracts: left alone: {lead}")
    print(f"leadvibe-contracts: clean-up done: {len(removed)} removed, {len(left)} left")
    return 1 if left else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="leadvibe-contracts",
        description="Check a LeadVibe deployment against openapi.yaml. Configure it with LEADVIBE_BASE_URL, "
        "LEADVIBE_TOKEN and, optionally, LEADVIBE_OTHER_OU_TOKEN, LEADVIBE_ALLOW_WRITES=1, LEADVIBE_MAX_EXAMPLES "
        "(see the README). `leadvibe-contracts cleanup` removes leads earlier runs left behind. Other "
        "arguments go to pytest (e.g. -k reads, -x).",
    )
    parser.add_argument(
        "--report-dir", type=Path, default=Path("reports"), help="where the reports go (default reports/)"
    )
    parser.add_argument(
        "--previous",
        type=Path,
        default=None,
        help="a summary.json of an earlier run to compare with (default: the one in the report folder)",
    )
    args, rest = parser.parse_known_args(argv)
    try:
        target = target_from_env({**os.environ, "LEADVIBE_TARGET": "live"})
    except TargetError as exc:
        print(f"leadvibe-contracts: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if rest[:1] == ["cleanup"]:
        return cleanup(target)
    print(f"leadvibe-contracts: checking a live deployment against openapi.yaml\n{target.describe()}", flush=True)
    return run_suite(target, args.report_dir, rest, args.previous)


def entry() -> None:
    sys.exit(main())
