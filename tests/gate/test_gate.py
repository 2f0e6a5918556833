"""A gate is worth what it catches. The live-mode suite (`leadvibe-contracts`) runs over HTTP against the
mock served in a thread: as it is, it must pass and keep its safety promises; against each broken variant
it must fail, naming the check that caught the drift."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from waitress.server import create_server

from tests.gate.variants import VARIANTS, Wsgi, correct

SEEDED_LEADS = ("ld_123", "ld_legal_hold", "ld_score_reset", "ld_bot_burst", "ld_456", "ld_789")
# What each broken variant must be caught by: Schemathesis' titles for built-in checks, our contract names.
EXPECTED = {
    "missing_field": ["Response violates schema"],
    "wrong_type": ["Response violates schema"],
    "auth_ignored": ["API accepts requests without authentication", "requires_auth"],
    "deleted_lead_still_readable": ["deleted_lead_is_gone"],
    "write_not_persisted": ["write_persists"],
    "other_ou_visible": ["ou_isolation"],
}


@dataclass
class Recorder:
    """Every request the served app received: (method, path)."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, app: Wsgi) -> Wsgi:
        def recorded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self.lock:
                self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
            return app(environ, start_response)

        return recorded


@dataclass(frozen=True)
class Outcome:
    returncode: int
    output: str
    failures: str  # every failure and error text of the JUnit report
    recorder: Recorder
    lead_count: int


def _failures(report: Path) -> str:
    root = ET.parse(report).getroot()
    parts = []
    for case in root.iter("testcase"):
        for node in [*case.findall("failure"), *case.findall("error")]:
            parts.append(f"{case.get('name')}: {node.get('message', '')}\n{node.text or ''}")
    return "\n".join(parts)


def run_gate(variant: Callable[[], Wsgi], tmp: Path, *, writes: bool) -> Outcome:
    recorder = Recorder()
    app = variant()
    server = create_server(recorder.wrap(app), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    env = {
        **os.environ,
        "LEADVIBE_BASE_URL": f"http://127.0.0.1:{server.effective_port}",  # type: ignore[union-attr]
        "LEADVIBE_TOKEN": "kbn_pat_demo",
        "LEADVIBE_MAX_EXAMPLES": "5",
        "LEADVIBE_RATE_LIMIT": "1000",
        "LEADVIBE_WAIT_TIMEOUT": "5",
    }
    if writes:
        env |= {"LEADVIBE_ALLOW_WRITES": "1", "LEADVIBE_OTHER_OU_TOKEN": "kbn_pat_demo_emea"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "contracts", "--report-dir", str(tmp), "-q"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        server.close()
    store = getattr(app, "extensions", {}).get("leadvibe")
    lead_count = store.store.lead_count() if store is not None else -1
    report = tmp / "contracts-live.xml"
    failures = _failures(report) if report.exists() else ""
    return Outcome(result.returncode, result.stdout + result.stderr, failures, recorder, lead_count)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """All gate runs, two at a time (each is a server thread plus a pytest subprocess)."""
    runs: dict[str, tuple[Callable[[], Wsgi], bool]] = {
        "correct_read_only": (correct, False),
        "correct_with_writes": (correct, True),
        **{name: (variant, True) for name, variant in VARIANTS.items()},
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(run_gate, variant, tmp_path_factory.mktemp(name), writes=writes)
            for name, (variant, writes) in runs.items()
        }
        yield {name: future.result() for name, future in futures.items()}


def test_the_correct_mock_passes_read_only_and_sends_only_reads(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["correct_read_only"]
    assert outcome.returncode == 0, outcome.output[-3000:]
    assert "read-only: GET requests only" in outcome.output
    methods = {method for method, _ in outcome.recorder.requests}
    assert methods <= {"GET", "HEAD"}, methods
    assert len(outcome.recorder.requests) > 200


def test_the_correct_mock_passes_with_writes_and_only_touches_its_own_leads(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["correct_with_writes"]
    assert outcome.returncode == 0, outcome.output[-3000:]
    writes = [(method, path) for method, path in outcome.recorder.requests if method not in ("GET", "HEAD")]
    assert {method for method, _ in writes} >= {"PUT", "PATCH", "DELETE", "POST"}
    touched = [(method, path) for method, path in writes if any(f"/{lead}" in path for lead in SEEDED_LEADS)]
    assert not touched, touched[:10]
    assert outcome.lead_count == 76  # every lead the run created was deleted again; the seed is intact


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_broken_variant_fails_the_gate_naming_the_right_check(outcomes: dict[str, Outcome], variant: str) -> None:
    outcome = outcomes[variant]
    assert outcome.returncode == 1, outcome.output[-3000:]
    for expected in EXPECTED[variant]:
        assert expected in outcome.failures, f"{variant}: {expected!r} not reported\n{outcome.failures[:3000]}"
    assert "Reproduce with" in outcome.failures
