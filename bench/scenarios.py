"""The benchmark's sections, each a list of servers started one at a time and measured with wrk.

A server that fails to start, answers a pre-flight request with an error, or dies under load is
recorded as failed with the reason, and the bench goes on with the next one: the report flags it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import load, targets
from bench.common import Environment, say
from bench.load import (
    GET_LEAD,
    LIST_ACTIVE,
    LIST_BY_TYPE,
    LIST_COMBINED,
    LIST_CREATED,
    LIST_FILTERED,
    LIST_LEADS,
    PUT_LEAD,
    Call,
    PreflightFailed,
    WrkError,
    WrkResult,
    WrkSettings,
    preflight,
)
from bench.processes import (
    CpuUse,
    Launch,
    Memory,
    ServerFailed,
    cpu_between,
    cpu_sample,
    group_memory,
    serve,
    wait_ready,
)
from bench.targets import LARGE_SEED_LEADS, large_seed

VERSUS_CALLS = (GET_LEAD, PUT_LEAD, LIST_LEADS)
LIST_CALLS = (LIST_LEADS, LIST_FILTERED, LIST_BY_TYPE, LIST_ACTIVE, LIST_CREATED, LIST_COMBINED)
STARTUP_LAUNCHES = 3
MOCK = "leadvibe-mock"
SHIPPED_SEED = "leadvibe-mock, shipped seed"
LARGE_SEED = f"leadvibe-mock, {LARGE_SEED_LEADS:,}-lead seed"


@dataclass(frozen=True)
class Bench:
    """What every measurement shares: the load shape and where logs and wrk scripts go."""

    settings: WrkSettings
    log_dir: Path
    script_dir: Path


@dataclass
class ServerRun:
    """One server's life: readiness, its memory when ready and after the load, each run, or its failure."""

    server: str
    ready_s: float | None = None
    leads: int | None = None
    memory_ready: Memory | None = None
    memory_after: Memory | None = None
    runs: dict[str, WrkResult] = field(default_factory=dict)  # by call label; the median run of each call
    rps_spread: dict[str, list[float]] = field(default_factory=dict)  # every repeat's req/s, by call label
    cpu: dict[str, CpuUse] = field(default_factory=dict)  # during the median run, by call label
    body_bytes: dict[str, int] = field(default_factory=dict)  # size of each call's answer
    failure: str | None = None


def measure(launch: Launch, calls: Sequence[Call], bench: Bench) -> ServerRun:
    """Start `launch`, check every call answers 2xx, then warm up and measure each call in turn,
    `settings.repeat` times; the run with the median req/s stands for the call."""
    record = ServerRun(launch.name)
    say(f"{launch.name}: starting")
    try:
        with serve(launch, bench.log_dir) as server:
            ready = wait_ready(server)
            record.ready_s, record.leads = ready.seconds, _lead_count(ready.body)
            record.memory_ready = group_memory(server.process.pid)
            for call in calls:
                record.body_bytes[call.label] = preflight(server.base_url, call)
            for call in calls:
                if bench.settings.warmup_s > 0:
                    load.run(server.base_url, call, bench.settings, bench.settings.warmup_s, bench.script_dir)
                repeats = []
                for _ in range(bench.settings.repeat):
                    before = cpu_sample(server.process.pid)
                    result = load.run(
                        server.base_url, call, bench.settings, bench.settings.duration_s, bench.script_dir
                    )
                    repeats.append((result, cpu_between(before, cpu_sample(server.process.pid))))
                    say(f"  {call.label}: {_summary(*repeats[-1])}")
                repeats.sort(key=lambda pair: pair[0].rps)
                record.runs[call.label], record.cpu[call.label] = repeats[(len(repeats) - 1) // 2]
                record.rps_spread[call.label] = [result.rps for result, _ in repeats]
            if calls:
                record.memory_after = group_memory(server.process.pid)
            if server.process.poll() is not None:
                raise ServerFailed(f"{launch.name} exited with status {server.process.returncode} during the runs")
    except (ServerFailed, PreflightFailed, WrkError) as exc:
        record.failure = str(exc)
        say(f"  FAILED: {exc}")
    return record


def _summary(result: WrkResult, use: CpuUse) -> str:
    flags = f"  !! ERRORS: {result.error_summary()}" if result.errors else ""
    flags += f"  !! other processes used {use.other:.2f} cores" if use.noisy else ""
    return (
        f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms; "
        f"CPU: server {use.server:.2f}, wrk {use.wrk:.2f}, others {use.other:.2f} cores{flags}"
    )


def _lead_count(body: Any) -> int | None:
    """The lead count of the mock's /_mock/health answer."""
    return body.get("leads") if isinstance(body, dict) else None


def versus_mock(bench: Bench) -> ServerRun:
    """The `mock` section: the shipped CLI with its defaults, on the requests compared with Prism."""
    return measure(targets.mock_cli(MOCK), VERSUS_CALLS, bench)


def versus_prism(bench: Bench, prism_executable: Path) -> ServerRun:
    """The `prism` section: Prism on the same requests."""
    return measure(targets.prism(prism_executable), VERSUS_CALLS, bench)


def list_flatness(bench: Bench) -> list[ServerRun]:
    """The `list` section: the list endpoint with the shipped seed and with the large one."""
    shipped = measure(targets.mock_cli(SHIPPED_SEED), LIST_CALLS, bench)
    seed = _large_seed_or_failure()
    if isinstance(seed, ServerRun):
        return [shipped, seed]
    return [shipped, measure(targets.mock_cli(LARGE_SEED, seed=seed), LIST_CALLS, bench)]


def startup(bench: Bench, large: ServerRun | None = None) -> list[ServerRun]:
    """The `startup` section: launch-to-ready time and memory when ready, shipped seed (a few launches) and large seed.

    `large` is the list section's large-seed run, whose start-up was measured the same way: loading
    100,000 leads takes long enough not to do it twice.
    """
    runs = [measure(targets.mock_cli(f"{SHIPPED_SEED}, launch {n}"), [], bench) for n in range(1, STARTUP_LAUNCHES + 1)]
    if large is None:
        seed = _large_seed_or_failure()
        large = seed if isinstance(seed, ServerRun) else measure(targets.mock_cli(LARGE_SEED, seed=seed), [], bench)
    return [*runs, large]


def _large_seed_or_failure() -> Path | ServerRun:
    try:
        return large_seed()
    except (OSError, subprocess.CalledProcessError) as exc:
        say(f"  FAILED: the large seed could not be generated: {exc}")
        return ServerRun(LARGE_SEED, failure=f"the large seed could not be generated: {exc}")


@dataclass
class Results:
    """Everything one `python -m bench` measured; a section not run stays empty."""

    settings: WrkSettings
    environment: Environment
    versus: list[ServerRun] = field(default_factory=list)
    lists: list[ServerRun] = field(default_factory=list)
    startup: list[ServerRun] = field(default_factory=list)

    def all_runs(self) -> list[ServerRun]:
        """Each server run once, although the large-seed run may appear in two sections."""
        unique: dict[int, ServerRun] = {}
        for run in [*self.versus, *self.lists, *self.startup]:
            unique.setdefault(id(run), run)
        return list(unique.values())


def find_server(runs: Sequence[ServerRun], server: str) -> ServerRun | None:
    return next((run for run in runs if run.server == server), None)


def find(runs: Sequence[ServerRun], server: str, call: Call) -> WrkResult | None:
    """The result of `call` on `server`, if that server ran it."""
    return next((run.runs[call.label] for run in runs if run.server == server and call.label in run.runs), None)
