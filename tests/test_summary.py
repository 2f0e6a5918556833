"""The run summary (contracts/summary.py) from the findings recorded where tests fail (contracts/findings.py).

A small fake suite runs under `pytest.main` with `Recorder` and `RunSummary` as plugins, then summary.md and
summary.json are read back. It has every kind of result the real suite produces: a pass, semantic contracts
violated through `contracts.verdict` (one, and several at once), a real Schemathesis failure against a small
broken app, a test parametrized by operation, a skip, a setup and a teardown error. A secret appears in what
the tests send, print and raise, in the header and in the extras; it must appear in no file. The real
contracts tests then run against broken variants of the mock: their findings keep the failing request.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.findings import Recorder
from contracts.plugin import TargetPlugin
from contracts.summary import RunSummary
from contracts.target import MOCK_TOKEN, Target
from tests.gate.variants import deleted_lead_still_readable, wrong_type

SECRET = "kbn_pat_S3CRET_for_summary_tests"
MASK = "[REDACTED]"

FAKE_SUITE = """
import json
from types import SimpleNamespace

import flask
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from contracts.client import ApiResponse, SentRequest
from contracts.findings import FailingCases
from contracts.plugin import RUN_KEY
from contracts.verdict import Findings, expect

SECRET = "__SECRET__"


@pytest.fixture(autouse=True)
def run(request):
    \"\"\"A stand-in for contracts.run.Run: what the recorder reads of it.\"\"\"
    operations = {"listLeads": SimpleNamespace(label="GET /leads"), "putLead": SimpleNamespace(label="PUT /x")}
    stand_in = SimpleNamespace(failing=FailingCases(), contract=SimpleNamespace(operations=operations))
    request.config.stash[RUN_KEY] = stand_in
    return stand_in


def _response(status, body, url="http://h/lead/1"):
    return ApiResponse(status, {}, body, SentRequest("GET", url, "LEADVIBE_TOKEN"))


def test_passes():
    assert 1 + 1 == 2


def test_deleted_lead_is_gone():
    print(f"using token {SECRET}")
    response = _response(200, '{"lead_id": "1", "note": "' + SECRET + '"}')
    expect(False, "deleted_lead_is_gone", f"a deleted lead is still readable (token {SECRET})", response)


def test_two_sub_checks():
    findings = Findings()
    findings.expect(False, "requires_auth", "no challenge", _response(401, "{}", "http://h/leads"))
    findings.expect(True, "requires_auth", "fine")
    findings.expect(False, "requires_auth", "an invalid token was accepted", _response(200, "{}", "http://h/leads"))
    findings.check()


@pytest.mark.skip(reason="writes are off (LEADVIBE_ALLOW_WRITES)")
def test_skipped():
    pass


@pytest.fixture
def unreachable():
    raise ConnectionError(f"cannot reach the target with Bearer {SECRET}")


def test_fixture_error(unreachable):
    pass


@pytest.fixture
def cleanup():
    yield
    raise RuntimeError("could not delete lvc-1@contracts.invalid")


def test_teardown_error(cleanup):
    pass


@pytest.mark.parametrize("operation_id", ["listLeads", "putLead"])
def test_op(operation_id):
    if operation_id == "putLead":
        pytest.skip("read-only run")
    assert False, "the page is not the one asked for"


SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "tiny", "version": "1"},
    "paths": {
        "/lead/{leadID}": {
            "get": {
                "parameters": [
                    {"name": "leadID", "in": "path", "required": True, "schema": {"type": "string", "enum": ["ld_1"]}}
                ],
                "responses": {
                    "200": {
                        "description": "a lead",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["lead_id", "score"],
                                    "properties": {"lead_id": {"type": "string"}, "score": {"type": "integer"}},
                                }
                            }
                        },
                    }
                },
            }
        }
    },
}
app = flask.Flask("broken")


@app.get("/lead/<lead_id>")
def read(lead_id):
    return flask.Response(json.dumps({"lead_id": lead_id, "score": "high"}), 200, mimetype="application/json")


def lead_id_matches_path(ctx, response, case):
    body = response.json() if response.status_code == 200 else {}
    assert body.get("lead_id", "ld_2") == "ld_2", f"body lead_id {body.get('lead_id')!r} for path lead 'ld_2'"


schema = schemathesis.openapi.from_dict(SPEC, config=schemathesis.Config.from_dict({"headers": {"X-Key": SECRET}}))
schema.app = app


@schema.parametrize()
@settings(max_examples=3, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_real_schemathesis(case, run):
    response = case.call()
    with run.failing.watch(case, response):
        case.validate_response(response, additional_checks=[lead_id_matches_path])
"""


@dataclass(frozen=True)
class Written:
    code: int
    md: str
    data: dict[str, Any]
    plugin: RunSummary

    def everything(self) -> str:
        return self.md + json.dumps(self.data)

    def findings(self, test_part: str) -> list[dict[str, Any]]:
        return [f for f in self.data["findings"] if test_part in f["test"]]


def _redact(text: str) -> str:
    return text.replace(SECRET, MASK)


def _args(tmp: Path) -> list[str]:
    """A nested run of its own: no cache, no project settings, test modules imported by path."""
    return [
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rootdir={tmp}",
        "-c",
        str(tmp / "pytest.ini"),
        "--import-mode=importlib",
    ]


def run_suite(
    tmp: Path,
    source: str,
    *,
    previous: Path | None = None,
    extras: Callable[[], Mapping[str, Any]] | None = None,
    header: str = "target https://staging.example.com (read-only), budget 5000",
    plugin: RunSummary | None = None,
) -> Written:
    """Runs `source` as test_fake.py in `tmp` with a Recorder and a RunSummary writing to tmp/reports."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "pytest.ini").write_text("[pytest]\n")
    (tmp / "test_fake.py").write_text(textwrap.dedent(source).replace("__SECRET__", SECRET))
    summary = plugin or RunSummary(tmp / "reports", header, previous=previous, extras=extras, redact=_redact)
    sys.modules.pop("test_fake", None)  # every nested run imports its own test_fake.py
    try:
        code = pytest.main([*_args(tmp), str(tmp)], plugins=[Recorder(_redact), summary])
    finally:
        sys.modules.pop("test_fake", None)
    out = summary.out_dir
    return Written(int(code), (out / "summary.md").read_text(), json.loads((out / "summary.json").read_text()), summary)


def _extras() -> dict[str, Any]:
    return {
        "retries": [{"method": "GET", "path": "/leads", "status": 429, "attempts": 3, "waited_s": 1.5}],
        "drift": [
            {"operation": "GET /lead/{leadID}", "kind": "extra field", "name": "internal_note", "sample": {"t": SECRET}}
        ],
        "requests": 123,
        "notes": [f"token {SECRET} came from the environment", "<b>not markup</b>"],
        "verdict": "contract broken",
    }


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return run_suite(
        tmp_path_factory.mktemp("full"),
        FAKE_SUITE,
        extras=_extras,
        header=f"target https://staging.example.com, token {SECRET}, read-only, budget 5000",
    )


def test_the_run_is_counted_and_both_files_are_written(full: Written) -> None:
    assert full.code == 1
    assert sorted(p.name for p in full.plugin.written) == ["summary.json", "summary.md"]
    counts = full.data["counts"]
    assert (counts["total"], counts["passed"], counts["failed"], counts["error"], counts["skipped"]) == (9, 1, 4, 2, 2)
    assert full.data["verdict"] == "contract broken"
    assert full.data["requests"] == 123
    assert full.md.startswith("# LeadVibe contracts: contract broken\n")
    assert "- **Tests**: 9 (1 passed, 4 failed, 2 error, 2 skipped)" in full.md


def test_a_violated_contract_keeps_its_name_reason_request_and_reproducer(full: Written) -> None:
    [finding] = full.findings("test_deleted_lead_is_gone")
    assert finding["check"] == "deleted_lead_is_gone"
    assert finding["reason"] == f"a deleted lead is still readable (token {MASK})"
    assert finding["requests"] == ["GET http://h/lead/1 -> 200"]
    assert finding["reproducers"] == ['curl -X GET http://h/lead/1 -H "Authorization: Bearer $LEADVIBE_TOKEN"']
    assert finding["when"] == "call"
    assert '```sh\ncurl -X GET http://h/lead/1 -H "Authorization: Bearer $LEADVIBE_TOKEN"\n```' in full.md
    both = full.findings("test_two_sub_checks")
    assert [f["reason"] for f in both] == ["no challenge", "an invalid token was accepted"]
    assert [f["requests"] for f in both] == [["GET http://h/leads -> 401"], ["GET http://h/leads -> 200"]]


def test_a_schemathesis_failure_keeps_operation_code_request_and_reproducer(full: Written) -> None:
    found = {f["code"]: f for f in full.findings("test_real_schemathesis")}
    assert {"ST108", "ST901"} <= set(found), full.findings("test_real_schemathesis")
    schema = found["ST108"]
    assert (schema["check"], schema["operation"]) == ("Response violates schema", "GET /lead/{leadID}")
    assert schema["reason"].startswith('"high" is not of type "integer" Validated against the response schema')
    for finding in (schema, found["ST901"]):
        [request] = finding["requests"]
        assert request.startswith("GET http://localhost/lead/"), request
        assert request.endswith(" -> 200"), request
        [curl] = finding["reproducers"]
        assert curl.startswith("curl -X GET"), curl
        assert request.split()[1] in curl, curl
    custom = found["ST901"]
    assert custom["check"] == "Custom check failed: `lead_id_matches_path`"
    assert custom["reason"].startswith("body lead_id 'AAA' for path lead 'ld_2'")


def test_other_failures_are_named_by_their_type_and_first_line(full: Written) -> None:
    [setup] = full.findings("test_fixture_error")
    assert (setup["check"], setup["when"]) == ("ConnectionError", "setup")
    assert setup["reason"] == f"cannot reach the target with Bearer {MASK}"
    [teardown] = full.findings("test_teardown_error")
    assert (teardown["check"], teardown["when"]) == ("RuntimeError", "teardown")
    [plain] = full.findings("test_op")
    assert (plain["check"], plain["operation"]) == ("AssertionError", "GET /leads")
    assert plain["reason"].startswith("the page is not the one asked for")


def test_counts_per_operation_and_per_contract(full: Written) -> None:
    rows = {row["operation"]: row for row in full.data["operations"]}
    assert rows["GET /leads"] == {
        "operation": "GET /leads",
        "passed": 0,
        "failed": 1,
        "error": 0,
        "skipped": 0,
        "findings": 1,
    }
    assert rows["PUT /x"]["skipped"] == 1
    assert rows["GET /lead/{leadID}"]["findings"] >= 2  # Schemathesis' failures name their operation
    unnamed = [f for f in full.data["findings"] if f["operation"] is None]
    assert rows["(other tests)"]["findings"] == len(unnamed) >= 5
    assert "| `GET /leads` | 0 | 1 | 0 | 0 | 1 |" in full.md
    contracts = {row["contract"]: row for row in full.data["contracts"]}
    assert contracts["requires_auth"]["findings"] == 2
    assert contracts["Response violates schema (ST108)"]["operations"] == ["GET /lead/{leadID}"]
    assert "| `` Custom check failed: `lead_id_matches_path` (ST901) `` | 1 | `GET /lead/{leadID}` |" in full.md


def test_skips_are_counted_by_reason(full: Written) -> None:
    assert sorted((skip["reason"], skip["count"]) for skip in full.data["skipped"]) == [
        ("read-only run", 1),
        ("writes are off (LEADVIBE_ALLOW_WRITES)", 1),
    ]
    assert "## Skipped (2)\n\n- 1: " in full.md


def test_a_secret_is_redacted_everywhere(full: Written) -> None:
    assert SECRET not in full.everything()
    assert MASK in full.data["header"]
    assert full.data["drift"][0]["sample"] == {"t": MASK}
    assert f"token {MASK} came from the environment" in full.data["notes"]


def test_retries_drift_and_notes_are_shown(full: Written) -> None:
    assert "## Retries (1)" in full.md
    assert "| GET | /leads | 429 | 3 | 1.5 |" in full.md
    assert "## Drift (1)" in full.md
    assert "internal_note" in full.md
    assert "&lt;b&gt;not markup&lt;/b&gt;" in full.md


def test_the_diff_against_a_previous_report_names_new_fixed_unchanged_and_not_run(tmp_path: Path) -> None:
    before = """
        from contracts.verdict import expect

        def test_a():
            expect(False, "write_persists", "no")

        def test_b():
            pass

        def test_c():
            expect(False, "requires_auth", "no")

        def test_d():
            expect(False, "ou_isolation", "no")
    """
    after = """
        from contracts.verdict import expect

        def test_a():
            pass

        def test_b():
            expect(False, "deleted_lead_is_gone", "yes")

        def test_c():
            expect(False, "requires_auth", "still")
    """
    first = run_suite(tmp_path / "one", before)
    second = run_suite(tmp_path / "two", after, previous=tmp_path / "one" / "reports" / "summary.json")
    changes = second.data["changes"]
    assert [p["contract"] for p in changes["new"]] == ["deleted_lead_is_gone"]
    assert [p["contract"] for p in changes["fixed"]] == ["write_persists"]
    assert [p["contract"] for p in changes["unchanged"]] == ["requires_auth"]
    assert [p["contract"] for p in changes["not_run"]] == ["ou_isolation"]
    assert changes["previous_generated_at"] == first.data["generated_at"]
    assert "**New (1)**\n\n- `deleted_lead_is_gone` on `test_fake.py::test_b`" in second.md
    assert "**Fixed (1)**\n\n- `write_persists` on `test_fake.py::test_a`" in second.md


@pytest.mark.parametrize("content", ["{not json", '{"format": "something else"}', None])
def test_an_unreadable_previous_report_is_a_note_not_a_crash(tmp_path: Path, content: str | None) -> None:
    previous = tmp_path / "previous.json"
    if content is not None:
        previous.write_text(content)
    written = run_suite(tmp_path / "run", "def test_a():\n    pass\n", previous=previous)
    assert written.code == 0
    assert written.data["changes"] is None
    assert any("could not be read" in note for note in written.data["notes"])
    assert "Since the previous report" not in written.md


def test_an_interrupted_run_is_still_written(tmp_path: Path) -> None:
    source = (
        "def test_first():\n    pass\n\ndef test_cut():\n    raise KeyboardInterrupt\n\ndef test_never():\n    pass\n"
    )
    written = run_suite(tmp_path, source)
    assert written.code == int(pytest.ExitCode.INTERRUPTED)
    assert written.data["verdict"] == "interrupted"
    assert written.data["tests"]["test_fake.py::test_first"] == "passed"
    assert written.data["tests"].get("test_fake.py::test_cut", "unfinished") == "unfinished"


def test_a_coverage_section_is_appended_and_redacted(tmp_path: Path) -> None:
    summary = RunSummary(tmp_path / "reports", "header", redact=_redact)
    summary.add_section(lambda: f"## API coverage\n\n12 of 20 operations (token {SECRET})\n")
    written = run_suite(tmp_path, "def test_a():\n    pass\n", plugin=summary)
    assert written.md.endswith(f"## API coverage\n\n12 of 20 operations (token {MASK})\n")


def test_a_fault_in_the_summary_never_hides_the_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def extras() -> Mapping[str, Any]:
        raise ValueError(f"extras broke with {SECRET}")

    def redact(text: str) -> str:
        if "withhold me" in text:
            raise RuntimeError("redaction broke")
        return _redact(text)

    plugin = RunSummary(tmp_path / "reports", "header", extras=extras, redact=redact)
    source = "def test_a():\n    assert False, 'withhold me: " + SECRET + "'\n"
    written = run_suite(tmp_path, source, plugin=plugin)
    assert written.code == 1
    assert any(f"extras broke with {MASK}" in note for note in written.data["notes"])
    assert "redaction failed on some texts: they were withheld" in written.data["notes"]
    assert SECRET not in written.everything()
    assert "withhold me" not in written.everything()
    assert written.data["findings"][0]["check"] == "AssertionError"  # the failure stands, its text withheld

    class Broken(RunSummary):
        def build(self, exitstatus: int) -> dict[str, Any]:
            raise RuntimeError(f"summary bug near {SECRET}")

    broken = Broken(tmp_path / "broken", "header", redact=_redact)
    (tmp_path / "test_fake.py").write_text("def test_a():\n    pass\n")
    sys.modules.pop("test_fake", None)
    assert pytest.main([*_args(tmp_path), str(tmp_path)], plugins=[broken]) == 0
    err = capsys.readouterr().err
    assert f"summary: failed while writing the summary: RuntimeError: summary bug near {MASK}" in err
    assert broken.written == []


def _contracts(tmp: Path, plugin: TargetPlugin, *tests: str) -> dict[str, Any]:
    """Tests of contracts/ (node ids below it) in-process with a Recorder and a RunSummary: summary.json."""
    contracts = Path(__file__).resolve().parents[1] / "contracts"
    summary = RunSummary(tmp, header="in-process mock")
    selected = [str(contracts / test) for test in tests]
    pytest.main([*selected, "-q", "-p", "no:cacheprovider", "-o", "addopts="], plugins=[plugin, Recorder(str), summary])
    data: dict[str, Any] = json.loads((tmp / "summary.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.slow
def test_a_stateful_failure_keeps_the_request_that_showed_it(tmp_path: Path) -> None:
    """The Run remembers the case behind a failure of Schemathesis' state machine too (contracts.run)."""
    variant = deleted_lead_still_readable()
    plugin = TargetPlugin(Target(mode="mock", token=MOCK_TOKEN, max_examples=25), app=variant.app, reset=variant.reset)
    data = _contracts(tmp_path, plugin, "test_stateful.py")
    [finding] = [f for f in data["findings"] if f["code"] == "ST301"]
    assert finding["check"] == "Deleted resource still available"
    assert finding["reason"].startswith("The API did not return a `HTTP 404 Not Found` response (got `HTTP 200 OK`)")
    [request] = finding["requests"]  # a read of the deleted lead (which one depends on the scenarios drawn)
    assert request.startswith("GET http://localhost/")
    assert request.endswith(" -> 200")
    assert finding["reproducers"][0].startswith("curl -X GET")
    assert data["operations"][-1] == {
        "operation": "(other tests)",
        "passed": 0,
        "failed": 1,
        "error": 0,
        "skipped": 0,
        "findings": 0,
    }


@pytest.mark.slow
def test_schemathesis_operations_are_counted_per_operation(tmp_path: Path) -> None:
    """The real conformance test against the in-process mock: each operation is counted as passed in its
    row, never left "unfinished" (Schemathesis reports it as a subtest under a node id of its own)."""
    operations = ["GET /lead/{leadID}", "PUT /lead/{leadID}", "GET /leads"]
    tests = [f"test_conformance.py::test_operation_keeps_the_contract[{operation}]" for operation in operations]
    data = _contracts(tmp_path, TargetPlugin(Target(mode="mock", token=MOCK_TOKEN, max_examples=1)), *tests)
    assert data["counts"]["unfinished"] == 0, data["counts"]
    assert {row["operation"]: row["passed"] for row in data["operations"]} == dict.fromkeys(operations, 1)


@pytest.mark.slow
def test_a_real_run_records_the_failing_request_of_a_broken_mock(tmp_path: Path) -> None:
    """The real Run remembers the case behind a Schemathesis failure (contracts.run): the finding has it."""
    variant = wrong_type()
    target = Target(mode="mock", token=MOCK_TOKEN, max_examples=2)
    plugin = TargetPlugin(target, app=variant.app, reset=variant.reset)
    data = _contracts(tmp_path, plugin, "test_conformance.py::test_operation_keeps_the_contract[GET /lead/{leadID}]")
    [finding] = [f for f in data["findings"] if f["code"] == "ST108"]
    assert finding["operation"] == "GET /lead/{leadID}"
    assert finding["requests"][0].startswith("GET http://localhost/lead/")
    assert finding["requests"][0].endswith("-> 200")
    assert finding["reproducers"][0].startswith("curl -X GET")
    assert data["operations"][0]["failed"] == 1
