"""A gate is worth what it catches. The conformance suite runs here, in this process, once per target:

- the correct mock over HTTP in live mode, read-only: it must pass and send only reads (the correct mock with
  writes is tests/live's neighbour scenario: the real command, while another tool writes);
- each legal variant (the mock answering differently only where the docs leave room) over HTTP in live
  mode with writes: it must pass too, with the same safety promises (no false alarm on what the docs allow);
- each deliberately broken variant in-process: the suite must fail, naming the check that caught it.

Each run is `pytest.main` on `contracts/` with a `TargetPlugin` (no environment, nothing re-imported),
in a child forked from this process so that two runs use the machine's two cores.
"""

from __future__ import annotations

import multiprocessing
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from contracts.plugin import TargetPlugin
from contracts.target import MOCK_OTHER_TOKENS, MOCK_TOKEN, Target
from tests.gate.variants import LEGAL_VARIANTS, VARIANTS, Variant, Wsgi, correct
from tests.running import serving

pytestmark = pytest.mark.slow
CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SEEDED_LEADS = ("ld_123", "ld_legal_hold", "ld_score_reset", "ld_bot_burst", "ld_456", "ld_789")
ALL = (str(CONTRACTS),)
CONFORMANCE = CONTRACTS / "test_conformance.py"
ONE_LEAD = f"{CONFORMANCE}::test_operation_keeps_the_contract[GET /lead/{{leadID}}]"  # Schemathesis on one read
# What each broken variant must be caught by (Schemathesis' titles for built-in checks, our contract names), and
# the tests that catch it (pytest arguments): a variant runs only those, with one example each, so the self-test
# costs seconds. A variant that breaks every lead answer is caught on the one operation that reads a lead.
EXPECTED: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "missing_field": (["Response violates schema"], (ONE_LEAD,)),
    "wrong_type": (["Response violates schema"], (ONE_LEAD,)),
    "auth_ignored": (
        ["API accepts requests without authentication", "requires_auth"],
        (ONE_LEAD, f"{CONTRACTS}/test_reads.py::test_reads_without_a_valid_token_are_401_with_a_challenge"),
    ),
    "deleted_lead_still_readable": (["deleted_lead_is_gone"], (str(CONTRACTS), "-k", "test_ownership or after_delete")),
    "write_not_persisted": (["write_persists"], (str(CONTRACTS), "-k", "test_ownership or put_writes")),
    "other_ou_visible": (
        ["ou_isolation"],
        (str(CONTRACTS), "-k", "test_ownership or another_ou or invisible_to_another"),
    ),
    "patch_ignores_null": (["patch_merges"], (str(CONTRACTS), "-k", "test_ownership or patch_merges")),
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
    code: int
    failures: str  # every failure and error text of the JUnit report
    lead_count: int
    requests: tuple[tuple[str, str], ...] = ()  # what the served app received (live runs)


def _failures(report: Path) -> str:
    root = ET.parse(report).getroot()
    parts = []
    for case in root.iter("testcase"):
        for node in [*case.findall("failure"), *case.findall("error")]:
            parts.append(f"{case.get('name')}: {node.get('message', '')}\n{node.text or ''}")
    return "\n".join(parts)


def run_suite(plugin: TargetPlugin, tmp: Path, variant: Variant, select: tuple[str, ...] = ALL) -> Outcome:
    report = tmp / "contracts.xml"
    code = pytest.main(
        [*select, "-q", "-p", "no:cacheprovider", f"--junitxml={report}", "-o", "junit_family=xunit2"],
        plugins=[plugin],
    )
    return Outcome(int(code), _failures(report) if report.exists() else "", variant.store.lead_count())


def run_live(tmp: Path, *, writes: bool, serve: Callable[[], Variant] = correct) -> Outcome:
    """The suite in live mode, over HTTP, against the correct mock (or a legal variant) served in a thread."""
    variant, recorder = serve(), Recorder()
    with serving(recorder.wrap(variant.app)) as base_url:
        target = Target(
            mode="live",
            token=MOCK_TOKEN,
            base_url=base_url,
            other_tokens=MOCK_OTHER_TOKENS[:1] if writes else (),
            allow_writes=writes,
            max_examples=3,
            rate_limit=1000,
            wait_timeout=5,
            shrink=False,
            state_dir=tmp / "state",
        )
        outcome = run_suite(TargetPlugin(target), tmp, variant)
    return Outcome(outcome.code, outcome.failures, outcome.lead_count, tuple(recorder.requests))


def run_variant(name: str, tmp: Path) -> Outcome:
    variant = VARIANTS[name]()
    # One example per operation: what the docs state is checked by explicit examples, whatever the count.
    target = Target(
        mode="mock", token=MOCK_TOKEN, other_tokens=MOCK_OTHER_TOKENS, max_examples=1, wait_timeout=5, shrink=False
    )
    return run_suite(TargetPlugin(target, app=variant.app, reset=variant.reset), tmp, variant, EXPECTED[name][1])


def run_named(name: str, tmp: Path) -> Outcome:
    if name in VARIANTS:
        return run_variant(name, tmp)
    if name in LEGAL_VARIANTS:
        return run_live(tmp, writes=True, serve=LEGAL_VARIANTS[name])
    return run_live(tmp, writes=False)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    names = ["correct_read_only", *LEGAL_VARIANTS, *VARIANTS]
    jobs = [(name, tmp_path_factory.mktemp(name)) for name in names]
    with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
        return dict(zip(names, pool.starmap(run_named, jobs), strict=True))


def test_the_correct_mock_passes_read_only_and_sends_only_reads(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["correct_read_only"]
    assert outcome.code == 0, outcome.failures[:3000]
    methods = {method for method, _ in outcome.requests}
    assert methods <= {"GET", "HEAD"}, methods
    assert len(outcome.requests) > 200


@pytest.mark.parametrize("name", sorted(LEGAL_VARIANTS))
def test_each_legal_variant_passes_with_writes_touching_only_its_own_leads(
    outcomes: dict[str, Outcome], name: str
) -> None:
    outcome = outcomes[name]
    assert outcome.code == 0, outcome.failures[:3000]
    writes = [(method, path) for method, path in outcome.requests if method not in ("GET", "HEAD")]
    assert {method for method, _ in writes} >= {"PUT", "PATCH", "DELETE", "POST"}
    # Whole path segments: a created lead's random id may begin with a seeded one's (ld_1232c56e15fa).
    touched = [(method, path) for method, path in writes if set(path.split("?")[0].split("/")) & set(SEEDED_LEADS)]
    assert not touched, touched[:10]
    assert outcome.lead_count == 76  # every lead the run created was deleted again; the seed is intact


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_broken_variant_fails_the_gate_naming_the_right_check(outcomes: dict[str, Outcome], variant: str) -> None:
    outcome = outcomes[variant]
    assert outcome.code == 1, outcome.failures[:3000]
    for expected in EXPECTED[variant][0]:
        assert expected in outcome.failures, f"{variant}: {expected!r} not reported\n{outcome.failures[:3000]}"
    assert "Reproduce with" in outcome.failures
    if variant == "write_not_persisted":  # a failing property names the values it drew
        assert "updates = [" in outcome.failures, outcome.failures[:3000]
