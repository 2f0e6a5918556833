"""The conformance suite's own machinery: configuration from the environment, the budget, the safety rewrite."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.client import ApiClient, ReadOnlyViolation, TokenNames
from contracts.ownership import OwnedLeads
from contracts.run import build_run
from contracts.safety import LiveSafety, WriteRefused
from contracts.target import Target, TargetError, target_from_env
from contracts.throttle import BudgetExhausted, Throttle
from contracts.verdict import ContractViolation, Findings
from leadvibe_contract.contract import Contract, default_spec_path, load_contract
from tests.running import serving

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
        ({**LIVE, "LEADVIBE_CONCURRENCY": "0"}, "must be positive"),
        ({**LIVE, "LEADVIBE_CONCURRENCY": "64"}, "at most 16"),
    ],
)
def test_a_bad_environment_is_refused_with_a_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(TargetError, match=message):
        target_from_env(env)


@pytest.mark.slow  # a process of its own
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
    gate = Throttle(rate=10_000, budget=3)
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
    query: dict[str, Any] = field(default_factory=dict)


class FakeOwned(OwnedLeads):
    """Owned leads without a server: hands out ld_owned_1, ld_owned_2, ..."""

    def __init__(self) -> None:
        super().__init__(client=None, token="t", run_id="run1", wait_timeout=1)  # type: ignore[arg-type]
        self.created = 0

    def _baseline(self) -> set[str]:
        return set()

    def create(self, event_type: str = "x", metadata: dict[str, Any] | None = None) -> str:
        self.created += 1
        lead_id = f"ld_owned_{self.created}"
        self._leads.append(lead_id)
        self._alias_of[lead_id] = self.marker()
        return lead_id


def test_live_writes_are_rewritten_onto_the_runs_own_leads(spec: Contract) -> None:
    owned = FakeOwned()
    safety = LiveSafety(spec, owned, read_only=False)
    put = FakeCase("PUT", "/lead/{leadID}", {"leadID": "ld_123"}, {"owner_name": "x"})
    safety.prepare(put)
    assert put.path_parameters["leadID"] == "ld_owned_1"
    invalid = FakeCase("DELETE", "/lead/{leadID}", {"leadID": ""})
    safety.prepare(invalid)  # negative data (an id is non-empty) cannot name a real lead: left as generated
    assert invalid.path_parameters["leadID"] == ""
    ingest = FakeCase(
        "POST",
        "/ingest",
        body={"event_type": "x", "aliases": [{"alias_kind": "phone", "raw_value": "+1-555-0100"}, {"alias_kind": 3}]},
    )
    safety.prepare(ingest)
    first, second = ingest.body["aliases"]
    assert first == {"alias_kind": "phone", "raw_value": "lvc-run1-2@contracts.invalid"}  # 1 made ld_owned_1
    assert owned._aliases[-1] == ("phone", "lvc-run1-2@contracts.invalid")  # recorded with its kind, for clean-up
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


def test_the_last_check_refuses_any_write_to_a_lead_or_alias_the_run_has_not_proven(spec: Contract) -> None:
    """Whatever built the request (a link, a test, a bug in the rewrite): strangers are never written to."""
    owned = FakeOwned()
    safety = LiveSafety(spec, owned, read_only=False)
    mine = owned.create()
    safety.check_sent("PUT", f"/lead/{mine}", {}, {"owner_name": "x"})
    safety.check_sent("GET", "/lead/ld_123", {}, None)  # reads are not writes
    for method, path, body in [
        ("PUT", "/lead/ld_123", {"owner_name": "x"}),
        ("DELETE", "/lead/ld_123", None),
        ("PATCH", "/lead/ld_123/metadata", {"k": 1}),
        ("POST", "/ingest", {"event_type": "x", "lead_id": "ld_123"}),
        ("POST", "/ingest", {"event_type": "x", "aliases": [{"alias_kind": "email", "raw_value": "alex@example.com"}]}),
        ("DELETE", "/leads/ld_123", None),  # a path that declares no DELETE: still a lead of someone else
    ]:
        with pytest.raises(WriteRefused):
            safety.check_sent(method, path, {}, body)
    case = FakeCase("DELETE", "/lead/{leadID}", {"leadID": "ld_456"})
    with pytest.raises(WriteRefused, match="ld_456"):
        safety.check_case(case)  # the transport's check, after any rewrite
    assert len(safety.refused_writes) == 7  # each reported at the end of the run


def test_probes_with_undeclared_methods_are_aimed_at_own_leads_or_refused(spec: Contract) -> None:
    safety = LiveSafety(spec, FakeOwned(), read_only=False)
    probe = FakeCase("DELETE", "/leads/{leadID}", {"leadID": "ld_123"})  # the plural path declares only GET
    safety.prepare(probe)
    assert probe.path_parameters["leadID"] == "ld_owned_1"
    safety.prepare(FakeCase("TRACE", "/leads"))  # cannot change data
    with pytest.raises(WriteRefused, match="names no lead"):
        safety.prepare(FakeCase("DELETE", "/leads"))  # a bulk delete the spec does not declare: never sent
    with pytest.raises(WriteRefused, match="not a path of the spec"):
        safety.prepare(FakeCase("POST", "/admin/purge"))


def test_a_read_only_run_refuses_anything_but_reads(spec: Contract) -> None:
    safety = LiveSafety(spec, None, read_only=True)
    safety.prepare(FakeCase("GET", "/leads"))
    for method in ("PUT", "PATCH", "DELETE", "POST", "OPTIONS"):
        with pytest.raises(ReadOnlyViolation):
            safety.prepare(FakeCase(method, "/lead/{leadID}", {"leadID": "ld_123"}))


def _spec_with(tmp_path: Path, path: str, item: dict[str, Any]) -> Path:
    """A copy of openapi.yaml with one more path."""
    document = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    document["paths"][path] = item
    copy = tmp_path / "openapi.yaml"
    copy.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return copy


LEAD_ID = {"$ref": "#/components/schemas/LeadId"}
LEAD_PARAMETER = {"$ref": "#/components/parameters/LeadID"}
NO_CONTENT = {"204": {"description": "done"}}


def test_a_new_write_operation_is_made_safe_from_the_spec_alone(tmp_path: Path) -> None:
    """POST /leads/merge names two leads in its body: both are rewritten, with no change to the safety code."""
    merge = {
        "post": {
            "operationId": "mergeLeads",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"into": LEAD_ID, "sources": {"type": "array", "items": LEAD_ID}},
                        }
                    }
                },
            },
            "responses": NO_CONTENT,
        }
    }
    spec = load_contract(_spec_with(tmp_path, "/leads/merge", merge))
    plan = spec.operations["mergeLeads"].write
    assert plan is not None
    assert plan.allowed
    assert {place.pointer for place in plan.places} == {("into",), ("sources", "*")}
    safety = LiveSafety(spec, FakeOwned(), read_only=False)
    case = FakeCase("POST", "/leads/merge", body={"into": "ld_123", "sources": ["ld_456", "ld_789"]})
    safety.prepare(case)
    assert case.body == {"into": "ld_owned_1", "sources": ["ld_owned_1", "ld_owned_1"]}


@pytest.mark.parametrize(
    ("path", "item", "reason"),
    [
        (
            "/lead/{leadID}/notes/{noteID}",
            {
                "parameters": [
                    LEAD_PARAMETER,
                    {"name": "noteID", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "delete": {"operationId": "deleteNote", "responses": NO_CONTENT},
            },
            "path parameter 'noteID' addresses something other than a lead",
        ),
        (
            "/leads/tags",
            {
                "post": {
                    "operationId": "tagLeads",
                    "requestBody": {
                        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": LEAD_ID}}}
                    },
                    "responses": NO_CONTENT,
                }
            },
            "under a key the client chooses",
        ),
        (
            "/leads/purge",
            {"post": {"operationId": "purgeLeads", "responses": NO_CONTENT}},
            "names no lead id or alias",
        ),
        (
            "/leads/transfer",
            {
                "post": {
                    "operationId": "transferLead",
                    "parameters": [{"name": "X-Lead-Id", "in": "header", "required": True, "schema": LEAD_ID}],
                    "responses": NO_CONTENT,
                }
            },
            "header parameter 'X-Lead-Id' holds a lead id",
        ),
    ],
    ids=["unknown-path-id", "client-chosen-key", "no-lead", "lead-in-header"],
)
def test_a_write_operation_the_gate_cannot_account_for_is_refused_naming_it(
    tmp_path: Path, path: str, item: dict[str, Any], reason: str
) -> None:
    spec_path = _spec_with(tmp_path, path, item)
    spec = load_contract(spec_path)
    operation_id = next(op["operationId"] for method, op in item.items() if method != "parameters")
    safety = LiveSafety(spec, FakeOwned(), read_only=False)
    assert reason in safety.refused[operation_id]
    method = next(method for method in item if method != "parameters").upper()
    with pytest.raises(WriteRefused, match=operation_id):
        safety.prepare(FakeCase(method, path, {"leadID": "ld_123", "noteID": "n1"}, {"ld_123": "x"}))
    # The whole run: Schemathesis never generates it, and the run says why at the start.
    target = Target(mode="live", token="t", base_url="http://127.0.0.1:9", allow_writes=True, spec_path=spec_path)
    run = build_run(target)
    assert any(operation_id in note and reason in note for note in run.notes)
    enabled = {op.definition.raw.get("operationId") for op in _enabled(run)}
    assert "updateLead" in enabled
    assert operation_id not in enabled


def _enabled(run: Any) -> list[Any]:
    return [
        result.ok()
        for result in run.schema.get_all_operations()
        if run.schema.config.operations.get_for_operation(result.ok()).enabled is not False
    ]


@pytest.mark.slow  # a process of its own
def test_the_live_runner_runs_with_the_mock_unimportable(tmp_path: Path) -> None:
    """The gate depends on the contract package, never on the mock: import it with mock_server blocked."""
    from tests.gate.variants import correct

    program = (
        "import sys; sys.modules['mock_server'] = None\n"  # any `import mock_server...` now raises ImportError
        "from contracts.runner import main\n"
        "code = main(['--report-dir', sys.argv[1], '-q', '-k', 'singular or conformance and score-explain'])\n"
        "assert not any(name.startswith('mock_server.') for name in sys.modules), 'the mock was imported'\n"
        "sys.exit(code)\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LEADVIBE_TOKEN": "kbn_pat_demo",
        "LEADVIBE_MAX_EXAMPLES": "3",
        "LEADVIBE_RATE_LIMIT": "1000",
        "LEADVIBE_CONCURRENCY": "1",  # the tests run in this very process, with the mock blocked
    }
    with serving(correct().app, threads=2) as base_url:
        result = subprocess.run(
            [sys.executable, "-c", program, str(tmp_path)],
            env={**env, "LEADVIBE_BASE_URL": base_url},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=Path(__file__).resolve().parents[1],
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout


def test_findings_report_every_sub_check_not_just_the_first() -> None:
    findings = Findings()
    findings.expect(True, "requires_auth", "fine")
    findings.expect(False, "requires_auth", "no challenge")
    findings.expect(False, "requires_auth", "an invalid token was accepted")
    with pytest.raises(ContractViolation, match="2 violations") as raised:
        findings.check()
    assert "no challenge" in str(raised.value)
    assert "an invalid token was accepted" in str(raised.value)
    Findings().check()  # nothing found: nothing raised


class QueuedIngestApi(ApiClient):
    """A deployment whose ingest is queued: by-alias finds a marker's lead only from its third lookup."""

    def __init__(self) -> None:
        super().__init__(TokenNames())
        self.lookups = 0
        self.deleted: list[str] = []
        self.marker = ""

    def _send(
        self, method: str, path: str, headers: dict[str, str], params: dict[str, Any], json_body: Any
    ) -> tuple[int, Mapping[str, str], str, str]:
        if path == "/leads":
            return 200, {}, json.dumps({"leads": []}), path
        if path == "/lead/by-alias":
            if params["value"] != self.marker:
                return 404, {}, "{}", path
            self.lookups += 1
            return (200, {}, '{"lead_id": "ld_late"}', path) if self.lookups >= 3 else (404, {}, "{}", path)
        if path == "/lead/ld_late/aliases":
            return 200, {}, json.dumps({"aliases": [{"kind": "email", "value": self.marker}]}), path
        if method == "DELETE":
            self.deleted.append(path)
            return 200, {}, "{}", path
        raise AssertionError(f"unexpected {method} {path}")


@pytest.mark.parametrize("accepted", [True, False])
def test_clean_up_awaits_the_lead_of_a_marker_an_accepted_write_carried(spec: Contract, accepted: bool) -> None:
    """A queued ingest (202, applied later) of a generated write: clean-up waits for its lead and deletes
    it; a marker no write was accepted with is looked up once and never waited for."""
    api = QueuedIngestApi()
    owned = OwnedLeads(api, "t", "run1", wait_timeout=5)
    safety = LiveSafety(spec, owned, read_only=False)
    ingest = FakeCase(
        "POST", "/ingest", body={"event_type": "x", "aliases": [{"alias_kind": "email", "raw_value": "a@b.c"}]}
    )
    safety.prepare(ingest)
    api.marker = ingest.body["aliases"][0]["raw_value"]
    safety.observe(ingest, 202 if accepted else 400)
    assert owned.cleanup() == []
    assert api.deleted == (["/lead/ld_late"] if accepted else [])
    assert api.lookups == (3 if accepted else 1)
