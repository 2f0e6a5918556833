"""The benchmark's verdicts and outputs: the project's performance targets checked against the numbers,
a markdown report for people (and docs/measurements.md) and a JSON file of raw numbers.

The targets (a miss is reported, never raised):

- The mock's GETs: at least twice Prism's throughput, with a lower p99.
- GET /leads: p50 with 100,000 leads within 1.5x of the shipped seed's (the list is served from a
  ranking, not a scan).
- Every run free of errors and every server started: otherwise no other number can be trusted.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import (
    GET_LEAD,
    LIST_ACTIVE,
    LIST_BY_TYPE,
    LIST_CREATED,
    LIST_FILTERED,
    LIST_LEADS,
    Call,
    WrkResult,
    WrkSettings,
)
from bench.processes import NOISY_CORES, Memory
from bench.scenarios import (
    LARGE_SEED,
    LIST_CALLS,
    MOCK,
    SHIPPED_SEED,
    VERSUS_CALLS,
    Results,
    ServerRun,
    find,
    find_server,
)
from bench.targets import LARGE_SEED_LEADS, PRISM

INDEXED_FILTERS = (LIST_BY_TYPE, LIST_ACTIVE, LIST_CREATED)

MIN_SPEEDUP = 2.0
MAX_LIST_SLOWDOWN = 1.5

_MISSING = "–"


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
    verdicts += [_filter_near_unfiltered(results, call) for call in INDEXED_FILTERS]
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


def _filter_near_unfiltered(results: Results, call: Call) -> Verdict:
    target = f"{call.label}: p50 at 100,000 leads ≤ 2× the unfiltered list's"
    large = find_server(results.lists, LARGE_SEED)
    filtered, unfiltered = _result(large, call), _result(large, LIST_LEADS)
    if not filtered or not unfiltered:
        return Verdict(target, None, "not measured (needs the list section)")
    ratio = filtered.p50_ms / unfiltered.p50_ms
    detail = f"{filtered.p50_ms:.2f} vs {unfiltered.p50_ms:.2f} ms = {ratio:.2f}×"
    return Verdict(target, ratio <= 2, detail)


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


def markdown(results: Results, verdicts: Sequence[Verdict]) -> str:
    sections = [
        _header(results),
        _targets(verdicts),
        _problems(results),
        _noise(results),
        _versus(results.versus),
        _lists(results.lists),
        _startup(results.startup),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def as_json(results: Results, verdicts: Sequence[Verdict]) -> str:
    document: dict[str, Any] = dataclasses.asdict(results)
    document["targets"] = [dataclasses.asdict(verdict) for verdict in verdicts]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _header(results: Results) -> str:
    env, settings = results.environment, results.settings
    packages = ", ".join(f"{name} {version}" for name, version in env.packages.items())
    prism = f"Prism {env.prism} (node {env.node})" if env.prism else "Prism not run"
    return "\n".join(
        [
            "# Benchmark: the LeadVibe mock",
            "",
            f"- Date: {env.date}",
            f"- Machine: `nproc` = {env.nproc}, {env.cpu}; load average {env.load_before} before, "
            f"{env.load_after} after",
            f"- Versions: Python {env.python}, {packages}; {prism}; {env.wrk}",
            f"- wrk: {settings.threads} thread, {settings.connections} connections, "
            f"{settings.duration_s:g} s per run after a {settings.warmup_s:g} s warm-up run, {_repeats(settings)}"
            "`--latency`, "
            f"`--timeout {settings.timeout_s:g}s`. One wrk thread, because wrk shares the 2 cores with the "
            f"server (it needs well under half a core at these rates); {settings.connections} connections keep "
            "both servers busy without long queues; the warm-up also brings Prism's "
            "JIT to its steady state (about 4 s of load).",
            "- CPU per run: the server's process group and wrk from /proc and getrusage; 'others' is the rest "
            "of the machine's busy time, i.e. processes outside the benchmark.",
            "- Every server listens on 127.0.0.1 on a free port and runs alone; each request is first sent once "
            "and must answer 2xx. Errors count responses ≥ 400 (wrk's 'Non-2xx or 3xx') and socket errors.",
        ]
    )


def _repeats(settings: WrkSettings) -> str:
    if settings.repeat == 1:
        return ""
    return f"{settings.repeat} runs per request, the median one reported (range of req/s in brackets), "


def _targets(verdicts: Sequence[Verdict]) -> str:
    lines = ["## Targets", ""]
    lines += [f"- **{verdict.mark}** {verdict.target}: {verdict.detail}" for verdict in verdicts]
    return "\n".join(lines)


def _problems(results: Results) -> str:
    problems = problem_list(results)
    if not problems:
        return ""
    lines = ["## ⚠ ERRORS: failed servers and runs with errors; do not quote their numbers", ""]
    return "\n".join(lines + [f"- {problem}" for problem in problems])


def _noise(results: Results) -> str:
    noisy = [
        f"- {run.server}, `{label}`: other processes used {use.other:.2f} cores (server {use.server:.2f}, "
        f"wrk {use.wrk:.2f})"
        for run in results.all_runs()
        for label, use in run.cpu.items()
        if use.noisy
    ]
    if not noisy:
        return ""
    intro = (
        f"## ⚠ Busy machine: runs marked † shared the CPU with other processes (over {NOISY_CORES:g} cores "
        "on average); rerun them on a quiet machine before quoting them"
    )
    return "\n".join([intro, "", *noisy])


def _versus(runs: Sequence[ServerRun]) -> str:
    if not runs:
        return ""
    mock, prism = find_server(runs, MOCK), find_server(runs, PRISM)
    rows = []
    for call in VERSUS_CALLS:
        mine, theirs = _result(mock, call), _result(prism, call)
        rows.append(
            [
                f"`{call.label}`",
                _rps(mock, call),
                _rps(prism, call),
                f"{mine.rps / theirs.rps:.2f}×" if mine and theirs else _MISSING,
                _ms(mine, "p50_ms"),
                _ms(theirs, "p50_ms"),
                _ms(mine, "p99_ms"),
                _ms(theirs, "p99_ms"),
                f"{_bytes(mock, call)} / {_bytes(prism, call)}",
            ]
        )
    header = [
        *(
            "Request",
            "mock req/s",
            "Prism req/s",
            "mock/Prism",
            "mock p50",
            "Prism p50",
            "mock p99",
            "Prism p99",
        ),
        "answer bytes, mock / Prism",
    ]
    note = (
        "Prism answers every request with the spec's static example (its `GET /leads` example holds one lead; "
        "the mock's first page holds 25) and stores nothing; the mock authenticates, validates, and reads or "
        "writes its store. Prism runs with `--verboseLevel warn`: at the default `info` it logs eight lines per "
        "request, which roughly halves its throughput."
    )
    return "\n".join(["## Mock vs Prism", "", *_table(header, rows), "", note, *_failures(runs)])


def _times(result: Any, baseline: Any) -> str:
    """How many times the unfiltered list's p50 a request takes (the filters' target: at most 2x)."""
    if not result or not baseline or not baseline.p50_ms:
        return _MISSING
    ratio = result.p50_ms / baseline.p50_ms
    return f"{ratio:.2f}×" + ("" if ratio <= 2 else " (over 2×)")


def _lists(runs: Sequence[ServerRun]) -> str:
    if not runs:
        return ""
    small, large = find_server(runs, SHIPPED_SEED), find_server(runs, LARGE_SEED)
    rows = []
    for call in LIST_CALLS:
        few, many = _result(small, call), _result(large, call)
        rows.append(
            [
                f"`{call.label}`",
                _ms(few, "p50_ms"),
                _ms(many, "p50_ms"),
                f"{many.p50_ms / few.p50_ms:.2f}×" if few and many else _MISSING,
                _ms(few, "p99_ms"),
                _ms(many, "p99_ms"),
                _rps(small, call),
                _rps(large, call),
                _times(many, _result(large, LIST_LEADS)),
            ]
        )
    s = f"{_leads(small)} leads"
    b = f"{_leads(large) if large and large.leads else f'{LARGE_SEED_LEADS:,}'} leads"
    header = [
        "Request",
        f"p50, {s}",
        f"p50, {b}",
        "p50 ratio",
        f"p99, {s}",
        f"p99, {b}",
        f"req/s, {s}",
        f"req/s, {b}",
        f"p50 vs unfiltered, {b}",
    ]
    title = f"## `{LIST_LEADS.label}`: list latency by store size"
    return "\n".join([title, "", *_table(header, rows), *_failures(runs)])


def _startup(runs: Sequence[ServerRun]) -> str:
    if not runs:
        return ""
    rows = [
        [
            run.server,
            _leads(run),
            f"{run.ready_s:.2f} s" if run.ready_s is not None else _MISSING,
            _mib(run.memory_ready, "rss_kib"),
            _mib(run.memory_ready, "pss_kib"),
            str(run.memory_ready.processes) if run.memory_ready else _MISSING,
        ]
        for run in runs
    ]
    header = ["Launch", "leads", "ready after", "RSS (sum)", "PSS (sum)", "processes"]
    shipped = [run.ready_s for run in runs if run.server.startswith(SHIPPED_SEED) and run.ready_s is not None]
    summary = (
        [f"Shipped seed, launch to first 200 from `/_mock/health`: median {statistics.median(shipped):.2f} s."]
        if shipped
        else []
    )
    note = (
        "Memory of the whole process group when ready, from /proc/PID/smaps_rollup. RSS counts a page "
        "shared by forked processes twice (Prism's node); PSS splits it between them."
    )
    return "\n".join(["## Start-up and memory", "", *_table(header, rows), "", *summary, note, *_failures(runs)])


def _failures(runs: Sequence[ServerRun]) -> list[str]:
    failed = [f"**FAILED: {run.server}**: {run.failure}" for run in runs if run.failure]
    return ["", *failed] if failed else []


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _result(run: ServerRun | None, call: Call) -> WrkResult | None:
    return run.runs.get(call.label) if run is not None else None


def _rps(run: ServerRun | None, call: Call) -> str:
    """Requests per second, with the range over repeats, ⚠ when the run had errors, † when the machine was busy."""
    result = _result(run, call)
    if run is None or result is None:
        return _MISSING
    spread, use = run.rps_spread.get(call.label, []), run.cpu.get(call.label)
    text = f"{result.rps:,.0f}" + (f" ({min(spread):,.0f}–{max(spread):,.0f})" if len(spread) > 1 else "")
    return text + (f" ⚠ {result.errors} errors" if result.errors else "") + (" †" if use and use.noisy else "")


def _ms(result: WrkResult | None, name: str) -> str:
    return f"{getattr(result, name):.2f} ms" if result is not None else _MISSING


def _mib(memory: Memory | None, name: str) -> str:
    return f"{getattr(memory, name) / 1024:.0f} MiB" if memory is not None else _MISSING


def _bytes(run: ServerRun | None, call: Call) -> str:
    size = run.body_bytes.get(call.label) if run is not None else None
    return f"{size:,}" if size is not None else _MISSING


def _leads(run: ServerRun | None) -> str:
    return f"{run.leads:,}" if run is not None and run.leads is not None else "?"
