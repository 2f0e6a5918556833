"""The gate section (`python -m bench --only gate`): what a slow network costs a live run of the gate.

Why: issue #11 asks that at 150 ms per request a `make test-live` run takes at most twice as long as
without it. The section runs `leadvibe-contracts` as users do (writes and isolation on, the default rate
limit of 20 requests/s) against a fresh `leadvibe-mock`, with and without `--delay 150` (awaited off the
mock's request thread, so that the mock itself is not what serializes requests), with the default
number of requests in flight (LEADVIBE_CONCURRENCY) and with one at a time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO_ROOT, say
from bench.processes import serve, wait_ready
from bench.targets import mock_cli

LATENCY_MS = 150
TARGET_RATIO = 2.0
DEFAULT_CONCURRENCY = 4  # contracts.target's default
PLAN = ((0, DEFAULT_CONCURRENCY), (LATENCY_MS, DEFAULT_CONCURRENCY), (0, 1), (LATENCY_MS, 1))


@dataclass(frozen=True)
class GateRun:
    latency_ms: int
    concurrency: int
    seconds: float
    requests: int
    exit_code: int
    verdict: str


def gate_runs(examples: int, log_dir: Path) -> list[GateRun]:
    return [_gate_run(latency, concurrency, examples, log_dir) for latency, concurrency in PLAN]


def _gate_run(latency_ms: int, concurrency: int, examples: int, log_dir: Path) -> GateRun:
    name = f"leadvibe-mock (gate, {latency_ms} ms)"
    with (
        serve(mock_cli(name, options=("--delay", str(latency_ms))), log_dir) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        wait_ready(server)
        env = {
            **os.environ,
            "LEADVIBE_BASE_URL": server.base_url,
            "LEADVIBE_TOKEN": "kbn_pat_demo",
            "LEADVIBE_OTHER_OU_TOKEN": "kbn_pat_demo_emea",
            "LEADVIBE_ALLOW_WRITES": "1",
            "LEADVIBE_MAX_EXAMPLES": str(examples),
            "LEADVIBE_CONCURRENCY": str(concurrency),
            "LEADVIBE_STATE_DIR": str(Path(tmp) / "state"),
        }
        say(f"gate: {latency_ms} ms per request, {concurrency} in flight, {examples} examples per operation")
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "contracts", "--report-dir", str(Path(tmp) / "reports"), "-q"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
    (log_dir / f"gate-{latency_ms}ms-{concurrency}.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    sent = re.search(r"requests sent: (\d+)", done.stdout)
    verdict = re.search(r"verdict: (.+)", done.stdout)
    return GateRun(
        latency_ms,
        concurrency,
        seconds,
        int(sent.group(1)) if sent else 0,
        done.returncode,
        verdict.group(1) if verdict else "(none)",
    )


def _seconds(runs: list[GateRun], latency_ms: int, concurrency: int) -> float | None:
    return next((r.seconds for r in runs if (r.latency_ms, r.concurrency) == (latency_ms, concurrency)), None)


def markdown(runs: list[GateRun], examples: int) -> str:
    lines = [
        "## Gate under latency",
        "",
        f"`leadvibe-contracts` against `leadvibe-mock --delay MS`: writes and isolation on, {examples} examples "
        "per operation, the default rate limit (20 requests/s).",
        "",
        "| latency | in flight | seconds | requests | vs no latency | verdict |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        base = _seconds(runs, 0, run.concurrency)
        ratio = f"{run.seconds / base:.2f}x" if base else "n/a"
        lines.append(
            f"| {run.latency_ms} ms | {run.concurrency} | {run.seconds:.1f} | {run.requests:,} | {ratio} "
            f"| {run.verdict} (exit {run.exit_code}) |"
        )
    slow, fast = _seconds(runs, LATENCY_MS, DEFAULT_CONCURRENCY), _seconds(runs, 0, DEFAULT_CONCURRENCY)
    if slow and fast:
        met = "met" if slow / fast <= TARGET_RATIO else "MISSED"
        lines += [
            "",
            f"Target: {LATENCY_MS} ms per request costs at most {TARGET_RATIO:g}x: {met} ({slow / fast:.2f}x).",
        ]
    return "\n".join(lines) + "\n"
