"""How tests/live runs `leadvibe-contracts`: in a subprocess, from a folder of its own, against the mock behind
faults (tests/live/faults.py); what it wrote and what the target saw come back as a `Result`."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from mock_server.api.auth import Scope
from tests.helpers import DEMO, DEMO_EMEA
from tests.live.faults import Faults, FaultyTarget, serve

ROOT = Path(__file__).resolve().parents[2]
TOKEN, OTHER = DEMO, DEMO_EMEA  # the seed's demo tokens (tests/helpers.py)
BASIC = ("lv_ci_demo", "lv_cs_demo")  # the seed's demo service account
BASIC_HEADER = base64.b64encode(f"{BASIC[0]}:{BASIC[1]}".encode()).decode().rstrip("=")
SCOPE = Scope("org_456", "unit_default")  # the demo token's organization and OU
SEEDED = ("ld_123", "ld_legal_hold", "ld_score_reset", "ld_bot_burst", "ld_456", "ld_789")
WRITES = ("PUT", "PATCH", "DELETE", "POST")


@dataclass(frozen=True)
class Result:
    code: int
    output: str  # stdout and stderr
    junit: str
    summary: str  # summary.md and summary.json together
    seconds: float
    target: FaultyTarget

    def writes_to_seeded_leads(self) -> list[tuple[str, str]]:
        return [
            (r.method, r.path)
            for r in self.target.requests
            if r.method in WRITES and any(r.path.rstrip("/").split("/")[2:3] == [lead] for lead in SEEDED)
        ]


def gate(
    tmp: Path,
    faults: Faults,
    *,
    writes: bool = True,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    during: Callable[[subprocess.Popen[str], FaultyTarget], None] | None = None,
) -> Result:
    """Run `leadvibe-contracts` against the mock behind `faults`; `during` may act on the process."""
    with serve(faults) as (base_url, target):
        return launch(tmp, base_url, target, writes=writes, env=env, args=args, during=during)


def launch(
    tmp: Path,
    base_url: str,
    target: FaultyTarget,
    *,
    writes: bool = True,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    during: Callable[[subprocess.Popen[str], FaultyTarget], None] | None = None,
    reports: Path | None = None,
) -> Result:
    """Run `leadvibe-contracts` against `base_url`, in its own session (process group), from `tmp`."""
    reports = reports or tmp / "reports"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "PYTHONPATH": str(ROOT),
        "LEADVIBE_BASE_URL": base_url,
        "LEADVIBE_TOKEN": TOKEN,
        "LEADVIBE_MAX_EXAMPLES": "3",
        "LEADVIBE_RATE_LIMIT": "1000",
        "LEADVIBE_WAIT_TIMEOUT": "5",
        "LEADVIBE_STATE_DIR": str(tmp / "state"),
        "LEADVIBE_CONCURRENCY": "2",  # workers that share a rate, a budget and signals; the default 4 in `latency`
        **({"LEADVIBE_ALLOW_WRITES": "1", "LEADVIBE_OTHER_OU_TOKEN": OTHER} if writes else {}),
        **(env or {}),
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "contracts", "--report-dir", str(reports), "-q", *args],
        cwd=tmp,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    if during is not None:
        during(process, target)
    output, _ = process.communicate(timeout=600)
    junit = reports / "contracts-live.xml"
    summaries = [reports / name for name in ("summary.md", "summary.json", "drift.json")]
    return Result(
        process.returncode,
        output,
        junit.read_text(encoding="utf-8") if junit.exists() else "",
        "".join(path.read_text(encoding="utf-8") for path in summaries if path.exists()),
        time.monotonic() - started,
        target,
    )


def wait_for_ingests(target: FaultyTarget, ingests: int, timeout: float = 120) -> None:
    """Until the run has sent `ingests` ingests (its writes are under way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(r.method == "POST" and r.path == "/ingest" for r in target.requests) >= ingests:
            return
        time.sleep(0.05)
    raise AssertionError("the run never ingested")


def run_scenarios(scenarios: Mapping[str, Callable[[Path], Result]], tmp: pytest.TempPathFactory) -> dict[str, Result]:
    """Every scenario, each in a folder of its own, three at a time (some mostly wait: rate, lag, latency)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(run, tmp.mktemp(name)) for name, run in scenarios.items()}
        return {name: future.result() for name, future in futures.items()}


# Each scenario runs the tests its property needs: the whole suite only where any test could raise the
# false alarm in question (a neighbour's writes, an interruption at any point, the budget), and one worker
# (LEADVIBE_CONCURRENCY=1) where what is tested does not depend on several in flight.
ONE = {"LEADVIBE_CONCURRENCY": "1"}
WRITERS = ("-k", "test_ownership or test_writes or test_lead_endpoints")  # every test that writes
EDGE = ("-k", "methods or singular or put_writes")  # the method probes, and a read and a write beside them
