"""The conformance suite's own machinery: configuration from the environment, the budget, the safety rewrite."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from contracts.client import BudgetExhausted, ReadOnlyViolation, throttle
from contracts.safety import LiveSafety, OwnedLeads
from contracts.target import TargetError, target_from_env
from mock_server.spec import ApiSpec

LIVE = {"LEADVIBE_TARGET": "live", "LEADVIBE_BASE_URL": "https://staging.example.com/", "LEADVIBE_TOKEN": "t"}


def test_live_configuration_comes_from_the_environment() -> None:
    target = target_from_env(
        {**LIVE, "LEADVIBE_ALLOW_WRITES": "1", "LEADVIBE_OTHER_OU_TOKEN": "o", "LEADVIBE_MAX_EXAMPLES": "7"}
    )
    assert (target.base_url, target.allow_writes, target.other_tokens, target.max_examples) == (
        "https://staging.example.com",
        True,
        ("o",),
        7,
    )
    read_only = target_from_env(LIVE)
    assert (read_only.allow_writes, read_only.other_tokens) == (False, ())
    assert "read-only: GET requests only" in read_only.describe()
    assert target_from_env({}).mode == "mock"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LEADVIBE_TARGET": "live"}, "LEADVIBE_BASE_URL is not set"),
        ({**LIVE, "LEADVIBE_BASE_URL": "staging.example.com"}, "must start with http"),
        ({**LIVE, "LEADVIBE_TOKEN": ""}, "LEADVIBE_TOKEN is not set"),
        ({**LIVE, "LEADVIBE_MAX_EXAMPLES": "many"}, "must be a whole number"),
        ({**LIVE, "LEADVIBE_RATE_LIMIT": "-1"}, "must be positive"),
    ],
)
def test_a_bad_environment_is_refused_with_a_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(TargetError, match=message):
        target_from_env(env)


def test_make_test_live_without_a_base_url_exits_2_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contracts"],
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "LEADVIBE_BASE_URL is not set" in result.stderr


def test_the_request_budget_is_enforced() -> None:
    gate = throttle(rate=10_000, budget=3)
    for _ in range(3):
        gate.acquire()
    with pytest.raises(BudgetExhausted, match="LEADVIBE_MAX_REQUESTS"):
        gate.acquire()


@dataclass
class FakeCase:
    method: str
    path: str
    path_parameters: dict[str, Any] = field(default_factory=dict)
    body: Any = None


class FakeOwned(OwnedLeads):
    """Owned leads without a server: hands out ld_owned_1, ld_owned_2, ..."""

    def __init__(self) -> None:
        super().__init__(client=None, token="t", run_id="run1", wait_timeout=1)  # type: ignore[arg-type]
        self.created = 0

    def create(self, event_type: str = "x", metadata: dict[str, Any] | None = None) -> str:
        self.created += 1
        lead_id = f"ld_owned_{self.created}"
        self._leads.append(lead_id)
        return lead_id


def test_live_writes_are_rewritten_onto_the_runs_own_leads(spec: ApiSpec) -> None:
    owned = FakeOwned()
    safety = LiveSafety(spec, owned, read_only=False)
    put = FakeCase("PUT", "/lead/{leadID}", {"leadID": "ld_123"}, {"owner_name": "x"})
    safety.prepare(put)
    assert put.path_parameters["leadID"] == "ld_owned_1"
    invalid = FakeCase("DELETE", "/lead/{leadID}", {"leadID": "not/a lead"})
    safety.prepare(invalid)  # negative data cannot name a real lead: left as generated
    assert invalid.path_parameters["leadID"] == "not/a lead"
    ingest = FakeCase(
        "POST",
        "/ingest",
        body={"event_type": "x", "aliases": [{"alias_kind": "phone", "raw_value": "+1-555-0100"}, {"alias_kind": 3}]},
    )
    safety.prepare(ingest)
    first, second = ingest.body["aliases"]
    assert first == {"alias_kind": "phone", "raw_value": "lvc-run1-1@contracts.invalid"}
    assert second == {"alias_kind": 3}
    by_id = FakeCase("POST", "/ingest", body={"event_type": "x", "lead_id": "ld_123"})
    safety.prepare(by_id)
    assert by_id.body["lead_id"] == "ld_owned_1"
    safety.observe(FakeCase("DELETE", "/lead/{leadID}", {"leadID": "ld_owned_1"}), 200)
    again = FakeCase("PATCH", "/lead/{leadID}/metadata", {"leadID": "ld_123"})
    safety.prepare(again)
    assert again.path_parameters["leadID"] == "ld_owned_2"  # a deleted lead is never reused
    read = FakeCase("GET", "/lead/{leadID}", {"leadID": "ld_123"})
    safety.prepare(read)
    assert read.path_parameters["leadID"] == "ld_123"  # reads are left alone


def test_a_read_only_run_refuses_anything_but_reads(spec: ApiSpec) -> None:
    safety = LiveSafety(spec, None, read_only=True)
    safety.prepare(FakeCase("GET", "/leads"))
    for method in ("PUT", "PATCH", "DELETE", "POST", "OPTIONS"):
        with pytest.raises(ReadOnlyViolation):
            safety.prepare(FakeCase(method, "/lead/{leadID}", {"leadID": "ld_123"}))
