"""The project's performance targets, checked against the numbers. A miss is reported, never raised.

- The mock's GETs: at least twice Prism's throughput, with a lower p99.
- GET /leads: p50 with 100,000 leads within 1.5x of the shipped seed's (the list is served from a
  ranking, not a scan).
- Every run free of errors and every server started: otherwise no other number can be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.calls import GET_LEAD, LIST_FILTERED, LIST_LEADS, Call
from bench.candidates import PRISM
from bench.scenarios import LARGE_SEED, MOCK, SHIPPED_SEED, Results, ServerRun, find

MIN_SPEEDUP = 2.0
MAX_LIST_SLOWDOWN = 1.5


@dataclass(frozen=True)
class Verdict:
    target: str
    passed: bool | None  # None: not measured in this run
    detail: str

    @property
    def mark(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


def evaluate(results: Results) -> list[Verdict]:
    verdicts = [_faster_than_prism(results, call) for call in (GET_LEAD, LIST_LEADS)]
    verdicts += [_flat_list(results, call) for call in (LIST_LEADS, LIST_FILTERED)]
    verdicts.append(_clean(results))
    return verdicts


def _faster_than_prism(results: Results, call: Call) -> Verdict:
    target = f"{call.label}: mock ≥ {MIN_SPEEDUP:g}× Prism's req/s, lower p99"
    mock, prism = find(results.versus, MOCK, call), find(results.versus, PRISM, call)
    if mock is None or prism is None:
        return Verdict(target, None, "not measured (needs both the mock and Prism sections)")
    speedup = mock.rps / prism.rps
    detail = (
        f"{mock.rps:,.0f} vs {prism.rps:,.0f} req/s = {speedup:.2f}×; p99 {mock.p99_ms:.2f} vs {prism.p99_ms:.2f} ms"
    )
    detail += _busy(results.versus, [(MOCK, call), (PRISM, call)])
    return Verdict(target, speedup >= MIN_SPEEDUP and mock.p99_ms < prism.p99_ms, detail)


def _flat_list(results: Results, call: Call) -> Verdict:
    target = f"{call.label}: p50 at 100,000 leads ≤ {MAX_LIST_SLOWDOWN:g}× the shipped seed's"
    small, large = find(results.lists, SHIPPED_SEED, call), find(results.lists, LARGE_SEED, call)
    if small is None or large is None:
        return Verdict(target, None, "not measured (needs the list section with both seeds)")
    ratio = large.p50_ms / small.p50_ms
    detail = f"p50 {large.p50_ms:.2f} vs {small.p50_ms:.2f} ms = {ratio:.2f}×"
    detail += _busy(results.lists, [(LARGE_SEED, call), (SHIPPED_SEED, call)])
    return Verdict(target, ratio <= MAX_LIST_SLOWDOWN, detail)


def _busy(runs: Sequence[ServerRun], pairs: list[tuple[str, Call]]) -> str:
    """A warning when any of the runs compared shared the machine with other busy processes."""
    noisy = any(
        run.server == server and call.label in run.cpu and run.cpu[call.label].noisy
        for run in runs
        for server, call in pairs
    )
    return " († measured on a busy machine: not conclusive)" if noisy else ""


def _clean(results: Results) -> Verdict:
    problems = problem_list(results)
    return Verdict("every server started and every run had no errors", not problems, "; ".join(problems) or "yes")


def problem_list(results: Results) -> list[str]:
    """Each failed server and each run with non-2xx answers or socket errors, in words."""
    problems = []
    for run in results.all_runs():
        if run.failure is not None:
            problems.append(f"{run.server} FAILED: {run.failure}")
        problems += [
            f"{run.server}, {label}: {result.error_summary()}" for label, result in run.runs.items() if result.errors
        ]
    return problems
