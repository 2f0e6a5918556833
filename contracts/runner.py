"""`leadvibe-contracts` (`make test-live`): the conformance suite against a live deployment.

Configured by environment variables only (docs/live-gate.md). `leadvibe-contracts cleanup` removes the
leads earlier runs left behind (after proving each is still one of theirs) and exits.

Exit status: 0 every contract holds; 1 a contract is broken (or safety refused a write); 2 the
environment does not describe a target; 3 the target is unavailable (unreachable, untrusted TLS, or no
definitive answer after retries); 4 incomplete (interrupted, or the request budget ran out). Writes a
JUnit XML report; no output or report ever contains a credential.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from contracts.client import HttpClient, TokenNames
from contracts.coverage import CoverageReport
from contracts.drift import merge_drift, write_drift
from contracts.fanout import Fanout, RunFolder
from contracts.findings import Recorder
from contracts.outcome import EXIT_UNAVAILABLE, EXIT_USAGE, Outcome
from contracts.ownership import MARKER_DOMAIN, Sweep, sweep
from contracts.plugin import RUN_KEY, TargetPlugin
from contracts.preflight import Refusal, preflight
from contracts.redact import Redactor
from contracts.state import FolderBusy, FolderLock, earlier_runs, ledger_of, retire
from contracts.summary import RunSummary
from contracts.target import Target, TargetError, target_from_env
from contracts.throttle import Throttle
from contracts.transient import RetryPolicy

SUITE = Path(__file__).parent
DEFAULT_REPORTS = Path("reports")  # each run writes into a folder of its own below it, named by its run id


class RunReport:
    """What the run did besides passing or failing (refusals, retries, requests, drift), for the console and
    the summary: read at the end of the session from the run, or from what each worker reported."""

    def __init__(
        self, redact: Redactor, outcome: Outcome, gate: Throttle, report_dir: Path, fanout: Fanout | None = None
    ) -> None:
        self._redact = redact
        self._outcome = outcome
        self._gate = gate
        self._report_dir = report_dir
        self._fanout = fanout
        self.lines: list[str] = []
        self.retries: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.requests = 0
        self.drift: list[dict[str, Any]] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        facts = list(self._fanout.facts) if self._fanout is not None else []
        run: Any = session.config.stash.get(RUN_KEY, None)
        if run is not None:
            facts.append(run.facts())
        self.requests = self._gate.used
        self.lines.append(f"requests sent: {self.requests} (budget {self._gate.budget})")
        for entry in (entry for fact in facts for entry in fact["retries"]):
            method, _, path = entry["request"].partition(" ")
            self.retries.append({"method": method, "path": path, **entry})
            self.lines.append(f"retried: {entry['request']}: {entry['attempts']} attempts, {entry['waited_s']} s")
        workers_notes = [note for fact in facts for note in fact["notes"]]
        self.notes += [note for note in dict.fromkeys(workers_notes) if note not in self.notes]
        if self._fanout is not None:  # a worker's notes are not printed as it starts: here they are
            self.lines += list(dict.fromkeys(workers_notes))
        drift = [fact["drift"] for fact in facts if fact["drift"] is not None]
        if drift:
            merged = merge_drift(drift)
            self.drift = [
                {"operation": item["operation"], "kind": item["kind"], "name": item["what"], "sample": item["sample"]}
                for item in merged["drift"]
            ]
            self.lines += write_drift(merged, self._report_dir / "drift.json")
        self.lines += [f"refused write: {refusal}" for fact in facts for refusal in fact["refused_writes"]]
        self.lines += [f"not owned, never written to: {refusal}" for fact in facts for refusal in fact["not_owned"]]

    def extras(self) -> dict[str, Any]:
        verdict, exit_status = self._outcome.verdict(self._outcome.exitstatus)
        notes = [*self.notes, *(line for line in self.lines if line not in self.notes)]
        return {
            "retries": self.retries,
            "drift": self.drift,
            "requests": self.requests,
            "notes": notes,
            "verdict": verdict,
            "exit_status": exit_status,  # the process's, not pytest's (an interruption is 4, not 2)
        }

    def print(self) -> None:
        for line in self.lines:
            print(self._redact(f"leadvibe-contracts: {line}"), flush=True)


def _terminate_as_interrupt(number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {number}")  # pytest stops, then tears down: clean-up runs


def _client(target: Target, gate: Throttle) -> HttpClient:
    assert target.base_url is not None
    return HttpClient(
        target.base_url,
        target.request_timeout,
        gate,
        TokenNames({target.token: "LEADVIBE_TOKEN"}),
        read_only=False,
        retries=RetryPolicy(attempts=target.retries),
        tls=target.tls,
    )


def _refusal_line(refusal: Refusal) -> str:
    kind = "target unavailable" if refusal.exit_code == EXIT_UNAVAILABLE else "configuration"
    return f"leadvibe-contracts: {kind}: {refusal.line}"


def _sweep_earlier_runs(target: Target, gate: Throttle, wait: bool = False) -> Sweep:
    """What earlier runs left behind on this deployment (their ledgers in LEADVIBE_STATE_DIR), removed with
    the proof a run demands before its first write; runs still in progress are left alone."""
    assert target.base_url is not None
    with earlier_runs(target.state_dir, target.base_url, target.token, target.run_dir) as (ledgers, busy):
        canary = f"lvc-{target.run_id}-sweep@{MARKER_DOMAIN}"
        done = sweep(_client(target, gate), target.token, ledgers, canary, target.wait_timeout if wait else 0.0)
    done.pending += busy
    return done


def _sweep_lines(done: Sweep) -> list[str]:
    return [
        *(f"removed a lead an earlier run left behind: {line}" for line in done.removed),
        *(f"left alone: {line}" for line in done.left),
        *(f"pending: {line}" for line in done.pending),
    ]


def run_suite(target: Target, report_dir: Path, pytest_args: list[str], previous_report: Path | None = None) -> int:
    redact = Redactor(target.secrets)
    try:
        own = FolderLock(target.run_dir)  # held while the run lives: no other run's sweep touches its ledger
        reports = FolderLock(report_dir)
    except FolderBusy as exc:
        print(f"leadvibe-contracts: {exc}: give each run its own --report-dir", file=sys.stderr)
        return EXIT_USAGE
    folder = None
    if target.concurrency > 1:
        folder = RunFolder(target.run_dir / "workers")
        folder.path.mkdir()
    try:
        return _run_suite(target, report_dir, pytest_args, previous_report, redact, folder)
    finally:
        if folder is not None:
            shutil.rmtree(folder.path, ignore_errors=True)
        ledger = ledger_of(target.run_dir, target.base_url or "", target.token)
        ledger.compact()
        retire(target.run_dir)
        own.release()
        reports.release()


def _run_suite(
    target: Target,
    report_dir: Path,
    pytest_args: list[str],
    previous_report: Path | None,
    redact: Redactor,
    folder: RunFolder | None,
) -> int:
    gate = Throttle(
        target.rate_limit,
        target.max_requests,
        target.cleanup_reserve,
        shared_at=folder.throttle if folder is not None else None,
    )
    refusal = preflight(target, gate)
    if refusal is not None:
        print(redact(_refusal_line(refusal)), file=sys.stderr)
        return refusal.exit_code
    report_dir.mkdir(parents=True, exist_ok=True)
    junit = report_dir / "contracts-live.xml"
    outcome = Outcome()
    fanout = Fanout(folder, target.run_id) if folder is not None else None
    report = RunReport(redact, outcome, gate, report_dir, fanout)
    if target.allow_writes:
        report.notes += _sweep_lines(_sweep_earlier_runs(target, gate))
        for note in report.notes:
            print(redact(f"leadvibe-contracts: {note}"), flush=True)
    summary = RunSummary(
        report_dir,
        header=target.describe(),
        previous=previous_report or report_dir / "summary.json",
        extras=report.extras,
        redact=redact,
    )
    coverage = CoverageReport(report_dir, fanout.facts if fanout is not None else None)
    summary.add_section(coverage.section)
    # A worker stopped by Ctrl-C or SIGTERM is not replaced: a new one would start in the middle of the clean-up.
    workers = ["-n", str(target.concurrency), "--dist", "load", "--max-worker-restart", "0"] if fanout else []
    relay = fanout.relay if fanout is not None else _terminate_as_interrupt
    previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, relay)
    if fanout is not None:  # Ctrl-C: the workers clean up, the runner waits for them
        signal.signal(signal.SIGINT, relay)
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
                # The runner imported Schemathesis before pytest could mark its plugin for assertion
                # rewriting, which it does not need: the warning would only be noise on every run.
                "-W",
                "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
                *workers,
                *pytest_args,
            ],
            plugins=[
                TargetPlugin(target, throttle=gate),
                redact,
                outcome,
                Recorder(redact),  # (each worker of a fanned-out run has its own: contracts.fanout)
                report,
                summary,
                coverage,
                *filter(None, [fanout]),
            ],
        )
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    report.print()
    verdict, exit_code = outcome.verdict(int(code))
    print(f"leadvibe-contracts: verdict: {verdict}", flush=True)
    print(f"leadvibe-contracts: reports: {junit}, {summary.markdown_path}", flush=True)
    return exit_code


def cleanup(target: Target) -> int:
    """Remove what earlier runs left behind on this deployment (their ledgers in LEADVIBE_STATE_DIR).

    Exit 1 when something needs a person (a lead it may not delete, markers of another token); markers
    whose lead has not appeared are kept for the next sweep and said, but are not a failure."""
    refusal = preflight(target)
    if refusal is not None:
        print(Redactor(target.secrets)(_refusal_line(refusal)), file=sys.stderr)
        return refusal.exit_code
    done = _sweep_earlier_runs(target, Throttle(target.rate_limit, target.max_requests), wait=True)
    for line in _sweep_lines(done):
        print(f"leadvibe-contracts: {line}")
    print(
        f"leadvibe-contracts: clean-up done: {len(done.removed)} removed, {len(done.left)} left alone, "
        f"{len(done.pending)} pending (state: {target.state_dir})"
    )
    return 1 if done.left else 0


def _latest_summary(reports: Path, own: Path) -> Path | None:
    """The summary of the newest earlier run in the same reports folder, to compare with."""
    found = [path for path in reports.glob("*/summary.json") if path.parent != own]
    return max(found, key=lambda path: path.stat().st_mtime, default=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="leadvibe-contracts",
        description="Check a LeadVibe deployment against openapi.yaml. Configure it with LEADVIBE_BASE_URL, "
        "LEADVIBE_TOKEN and, optionally, LEADVIBE_OTHER_OU_TOKEN, LEADVIBE_ALLOW_WRITES=1, LEADVIBE_MAX_EXAMPLES "
        "(see docs/live-gate.md). `leadvibe-contracts cleanup` removes leads earlier runs left behind. Other "
        "arguments go to pytest (e.g. -k reads, -x).",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="where the reports go (default reports/<run id>/, a folder per run; a folder two runs name at once "
        "is refused to the second)",
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
    if args.report_dir is not None:  # compared with the summary an earlier run left there, by default
        return run_suite(target, args.report_dir, rest, args.previous)
    report_dir = DEFAULT_REPORTS / target.run_id
    return run_suite(target, report_dir, rest, args.previous or _latest_summary(DEFAULT_REPORTS, report_dir))


def entry() -> None:
    sys.exit(main())
