"""The run summary (contracts/summary.py): a small fake suite runs under `pytest.main` with `RunSummary` as a
plugin, then summary.md, summary.html and summary.json are read back.

The fake suite has every kind of result the real one produces: a pass, a semantic contract violated
through `contracts.verdict.expect` (a real curl reproducer), a Schemathesis-style failure text, a real
Schemathesis failure against a small broken app, a skip, a fixture error, a teardown error, subtests
and tests parametrized by operation. A secret appears in what the tests print and raise, in the header
and in the extras; it must appear in no file.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from contracts.plugin import TargetPlugin
from contracts.summary import Operations, RunSummary, contracts_in, reproducers
from contracts.target import MOCK_TOKEN, Target
from leadvibe_contract.contract import load_contract

SECRET = "kbn_pat_S3CRET_for_summary_tests"
MASK = "[REDACTED]"

FAKE_SUITE = """
import json

import flask
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from contracts.client import ApiResponse, SentRequest
from contracts.verdict import expect

SECRET = "__SECRET__"


def test_passes():
    assert 1 + 1 == 2


def test_deleted_lead_is_gone():
    print(f"using token {SECRET}")
    response = ApiResponse(
        200, {}, '{"lead_id": "1", "note": "' + SECRET + '"}', SentRequest("GET", "http://h/lead/1", "LEADVIBE_TOKEN")
    )
    expect(False, "deleted_lead_is_gone", f"a deleted lead is still readable (token {SECRET})", response)


def test_written_by_hand():
    raise AssertionError(
        "contract `write_persists` violated: what PUT wrote GET does not return\\n"
        "Reproduce with:\\n"
        "    curl -X GET 'http://h/lead/1' -H \\"Authorization: Bearer $LEADVIBE_TOKEN\\""
    )


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


OPERATIONS = ["GET /lead/{leadID}", "GET /leads", "PUT /lead/{leadID}"]


@pytest.mark.parametrize("operation", OPERATIONS, ids=OPERATIONS)
def test_op(operation):
    if operation == "GET /leads":
        raise AssertionError(
            "Schemathesis found 2 distinct failures\\n\\n"
            "- ST108 Response violates schema (2 violations)\\n\\n    'page' is a required property\\n\\n"
            "- ST901 Custom check failed: `list_page_matches_request`\\n\\n    page/limit 1/10 not echoed\\n\\n"
            "[200] OK:\\n\\n    `{}`\\n\\n"
            "Reproduce with:\\n\\n"
            "    curl -X GET -H 'Authorization: [Filtered]' 'http://h/leads?page=1&limit=10'"
        )
    if operation == "PUT /lead/{leadID}":
        pytest.skip("read-only run")


def test_subtests(subtests):
    for lead in ("ld_1", "ld_2"):
        with subtests.test(msg="lead", lead=lead):
            assert lead == "ld_1", f"contract `ou_isolation` violated: {lead} is visible to another OU"


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
@settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_real_schemathesis(case):
    case.call_and_validate(additional_checks=[lead_id_matches_path])
"""


@dataclass(frozen=True)
class Written:
    code: int
    md: str
    html: str
    data: dict[str, Any]
    plugin: RunSummary

    def everything(self) -> str:
        return self.md + self.html + json.dumps(self.data)


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
    """Runs `source` as test_fake.py in `tmp` with a RunSummary writing to tmp/reports; reads the three files."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "pytest.ini").write_text("[pytest]\n")
    (tmp / "test_fake.py").write_text(textwrap.dedent(source).replace("__SECRET__", SECRET))
    summary = plugin or RunSummary(
        tmp / "reports", header, previous=previous, extras=extras, redact=lambda s: s.replace(SECRET, MASK)
    )
    sys.modules.pop("test_fake", None)  # every nested run imports its own test_fake.py
    try:
        code = pytest.main([*_args(tmp), str(tmp)], plugins=[summary])
    finally:
        sys.modules.pop("test_fake", None)
    out = summary.out_dir
    return Written(
        int(code),
        (out / "summary.md").read_text(),
        (out / "summary.html").read_text(),
        json.loads((out / "summary.json").read_text()),
        summary,
    )


def _extras() -> dict[str, Any]:
    return {
        "retries": [{"method": "GET", "path": "/leads", "status": 429, "attempts": 3, "waited_s": 1.5}],
        "drift": [
            {"operation": "GET /lead/{leadID}", "kind": "extra field", "name": "internal_note", "sample": {"t": SECRET}}
        ],
        "requests": 123,
        "notes": [f"token {SECRET} came from the environment", "<b>not markup</b>"],
        "verdict": "contract broken",
        "unknown": "ignored",
    }


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return run_suite(
        tmp_path_factory.mktemp("full"),
        FAKE_SUITE,
        extras=_extras,
        header=f"target https://staging.example.com, token {SECRET}, read-only, budget 5000",
    )


def _failure(written: Written, nodeid_part: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [f for f in written.data["failures"] if nodeid_part in f["nodeid"]]
    assert len(matches) >= 1, [f["nodeid"] for f in written.data["failures"]]
    return matches[0]


def test_the_run_is_counted_and_the_three_files_are_written(full: Written) -> None:
    assert full.code == 1
    assert sorted(p.name for p in full.plugin.written) == ["summary.html", "summary.json", "summary.md"]
    counts = full.data["counts"]
    assert counts["total"] == 11
    assert (counts["failed"], counts["error"], counts["skipped"]) == (5, 2, 2)
    assert counts["passed"] == 2
    assert counts["subtests_failed"] == 1
    assert full.data["verdict"] == "contract broken"
    assert full.data["requests"] == 123
    assert "- **Tests**: 11 (2 passed, 5 failed, 2 error, 2 skipped)" in full.md
    assert full.md.startswith("# LeadVibe contracts: contract broken\n")


def test_outcomes_per_test_cover_setup_call_teardown_and_subtests(full: Written) -> None:
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"] for t in full.data["tests"]}
    assert outcomes["test_passes"] == "passed"
    assert outcomes["test_skipped"] == "skipped"
    assert outcomes["test_fixture_error"] == "error"
    assert outcomes["test_teardown_error"] == "error"
    assert outcomes["test_subtests"] == "failed"
    assert outcomes["test_op[PUT /lead/{leadID}]"] == "skipped"
    assert _failure(full, "test_fixture_error")["when"] == "setup"
    assert _failure(full, "test_teardown_error")["when"] == "teardown"
    subtest = _failure(full, "test_subtests")
    assert subtest["subtest"] == "[lead] (lead='ld_2')"
    assert [c["name"] for c in subtest["contracts"]] == ["ou_isolation"]
    assert [f["subtest"] for f in full.data["failures"] if "test_subtests" in f["nodeid"]] == [subtest["subtest"]]
    skipped = next(t for t in full.data["tests"] if t["nodeid"].endswith("test_skipped"))
    assert skipped["skip_reason"] == "writes are off (LEADVIBE_ALLOW_WRITES)"


def test_failures_are_grouped_per_operation(full: Written) -> None:
    rows = {row["operation"]: row for row in full.data["operations"]}
    assert rows["GET /leads"]["failed"] == 1
    assert rows["PUT /lead/{leadID}"]["skipped"] == 1
    # the Schemathesis id and the reproducers of the semantic contracts both land on the template
    assert rows["GET /lead/{leadID}"]["passed"] == 1
    assert rows["GET /lead/{leadID}"]["failed"] == 3  # two semantic contracts and the real Schemathesis test
    assert _failure(full, "test_deleted_lead_is_gone")["operations"] == ["GET /lead/{leadID}"]
    assert "(no single operation)" in rows
    assert "| `GET /leads` | 0 | 1 | 0 | 0 |" in full.md
    assert "| `GET /lead/{leadID}` | 1 | 3 | 0 | 0 |" in full.md


def test_failures_are_grouped_per_contract(full: Written) -> None:
    rows = {row["label"]: row for row in full.data["contracts"]}
    assert rows["deleted_lead_is_gone"]["kind"] == "semantic"
    assert rows["write_persists"]["failures"] == 1
    assert rows["Response violates schema (ST108)"]["failures"] == 2  # the text by hand and the real one
    assert rows["list_page_matches_request (custom check, ST901)"]["operations"] == ["GET /leads"]
    assert rows["lead_id_matches_path (custom check, ST901)"]["operations"] == ["GET /lead/{leadID}"]
    assert rows["ConnectionError"]["kind"] == "error in setup"
    assert rows["RuntimeError"]["kind"] == "error in teardown"
    assert "| `Response violates schema (ST108)` | schemathesis | 2 |" in full.md
    assert "| `ou_isolation` | semantic | 1 |" in full.md


def test_every_failure_keeps_its_reproducer_verbatim(full: Written) -> None:
    semantic = 'curl -X GET http://h/lead/1 -H "Authorization: Bearer $LEADVIBE_TOKEN"'
    by_hand = "curl -X GET 'http://h/lead/1' -H \"Authorization: Bearer $LEADVIBE_TOKEN\""
    schemathesis_like = "curl -X GET -H 'Authorization: [Filtered]' 'http://h/leads?page=1&limit=10'"
    assert _failure(full, "test_deleted_lead_is_gone")["reproducers"] == [semantic]
    assert _failure(full, "test_written_by_hand")["reproducers"] == [by_hand]
    assert _failure(full, "test_op[GET /leads]")["reproducers"] == [schemathesis_like]
    real = _failure(full, "test_real_schemathesis")
    assert real["reproducers"]
    assert real["reproducers"][0].startswith("curl -X GET")
    assert "http://localhost/lead/" in real["reproducers"][0]
    for command in (semantic, by_hand, schemathesis_like):
        assert f"```sh\n{command}\n```" in full.md
    assert (
        "curl -X GET -H &#x27;Authorization: [Filtered]&#x27; &#x27;http://h/leads?page=1&amp;limit=10&#x27;"
        in full.html
    )


def test_a_secret_is_redacted_from_failures_reproducers_header_and_extras(full: Written) -> None:
    for text in (full.md, full.html, json.dumps(full.data)):
        assert SECRET not in text
    assert MASK in full.data["header"]
    assert MASK in _failure(full, "test_deleted_lead_is_gone")["message"]
    assert MASK in _failure(full, "test_fixture_error")["text"]
    assert (
        MASK in _failure(full, "test_real_schemathesis")["text"]
        or "[Filtered]" in _failure(full, "test_real_schemathesis")["text"]
    )
    assert full.data["drift"][0]["sample"] == {"t": MASK}
    assert f"token {MASK} came from the environment" in full.data["notes"]
    assert f"token {MASK}" in full.md


def test_retries_drift_and_notes_are_shown(full: Written) -> None:
    assert "## Retries (1)" in full.md
    assert "| GET | `/leads` | 429 | 3 | 1.5 |" in full.md
    assert "## Drift (1)" in full.md
    assert "extra field" in full.md
    assert "internal_note" in full.html
    assert "&lt;b&gt;not markup&lt;/b&gt;" in full.md
    assert "<b>not markup</b>" not in full.html
    assert "&lt;b&gt;not markup&lt;/b&gt;" in full.html


class _Page(HTMLParser):
    """Checks nesting and collects what a page would load."""

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input", "source", "wbr", "col", "area", "base", "embed"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.problems == []
    assert parser.stack == []
    return parser


def test_the_html_page_is_well_formed_and_self_contained(full: Written) -> None:
    page = _parse(full.html)
    assert not page.tags & {"script", "link", "img", "iframe", "object", "embed", "base", "form"}
    for tag, name, value in page.attributes:
        assert name not in ("src", "srcset", "action"), (tag, name)
        assert "http" not in value.lower(), (tag, name, value)
        assert "//" not in value, (tag, name, value)
        if name == "href":
            assert value.startswith("#"), value
    assert "url(" not in full.html  # no stylesheet fetch either
    text = "".join(page.text)
    assert "curl -X GET 'http://h/lead/1'" in text  # URLs only as escaped text
    assert "GET /lead/{leadID}" in text
    assert "contract `deleted_lead_is_gone` violated" in text


def test_the_diff_against_a_previous_report_names_new_fixed_and_unchanged(tmp_path: Path) -> None:
    before = """
        def test_a():
            assert False, "contract `write_persists` violated: no"

        def test_b():
            pass

        def test_c():
            assert False, "contract `requires_auth` violated: no"

        def test_d():
            assert False, "contract `ou_isolation` violated: no"
    """
    after = """
        def test_a():
            pass

        def test_b():
            assert False, "contract `deleted_lead_is_gone` violated: yes"

        def test_c():
            assert False, "contract `requires_auth` violated: still"
    """
    first = run_suite(tmp_path / "one", before)
    second = run_suite(tmp_path / "two", after, previous=tmp_path / "one" / "reports" / "summary.json")
    changes = second.data["changes"]
    assert [p["nodeid"] for p in changes["new"]] == ["test_fake.py::test_b"]
    assert [p["nodeid"] for p in changes["fixed"]] == ["test_fake.py::test_a"]
    assert [p["nodeid"] for p in changes["unchanged"]] == ["test_fake.py::test_c"]
    assert [p["nodeid"] for p in changes["not_run"]] == ["test_fake.py::test_d"]
    assert changes["previous_generated_at"] == first.data["generated_at"]
    md = second.md.split("## Since the previous report", 1)[1]
    assert "**New failures (1)**\n\n- `test_fake.py::test_b`: `deleted_lead_is_gone`" in md
    assert "**Fixed (1)**\n\n- `test_fake.py::test_a`: `write_persists`" in md
    assert "**Still failing (1)**\n\n- `test_fake.py::test_c`: `requires_auth`" in md
    assert "Since the previous report" in second.html
    _parse(second.html)


@pytest.mark.parametrize("content", ["{not json", '{"format": "something else"}', None])
def test_an_unreadable_previous_report_is_a_note_not_a_crash(tmp_path: Path, content: str | None) -> None:
    previous = tmp_path / "previous.json"
    if content is not None:
        previous.write_text(content)
    written = run_suite(tmp_path / "run", "def test_a():\n    pass\n", previous=previous)
    assert written.code == 0
    assert written.data["changes"] is None
    assert any("previous report" in note and "could not be read" in note for note in written.data["notes"])
    assert "could not be read" in written.md
    assert "Since the previous report" not in written.md


def test_an_interrupted_run_is_still_written(tmp_path: Path) -> None:
    written = run_suite(
        tmp_path,
        """
        def test_first():
            pass

        def test_interrupted():
            raise KeyboardInterrupt

        def test_never_ran():
            pass
        """,
    )
    assert written.code == int(pytest.ExitCode.INTERRUPTED)
    assert written.data["verdict"] == "interrupted"
    outcomes = {t["nodeid"]: t["outcome"] for t in written.data["tests"]}
    assert outcomes["test_fake.py::test_first"] == "passed"
    assert outcomes.get("test_fake.py::test_interrupted", "unfinished") == "unfinished"


def test_a_fault_in_the_summary_never_hides_the_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def extras() -> Mapping[str, Any]:
        raise ValueError(f"extras broke with {SECRET}")

    def redact(text: str) -> str:
        if "withhold me" in text:
            raise RuntimeError("redaction broke")
        return text.replace(SECRET, MASK)

    plugin = RunSummary(tmp_path / "reports", "header", extras=extras, redact=redact)
    written = run_suite(tmp_path, "def test_a():\n    assert False, 'withhold me: " + SECRET + "'\n", plugin=plugin)
    assert written.code == 1
    assert any(f"extras broke with {MASK}" in note for note in written.data["notes"])
    assert any("redaction failed" in note for note in written.data["notes"])
    assert SECRET not in written.everything()
    assert "withhold me" not in written.everything()

    class Broken(RunSummary):
        def build(self, exitstatus: int) -> dict[str, Any]:
            raise RuntimeError(f"summary bug near {SECRET}")

    broken = Broken(tmp_path / "broken", "header", redact=lambda s: s.replace(SECRET, MASK))
    (tmp_path / "test_fake.py").write_text("def test_a():\n    pass\n")
    sys.modules.pop("test_fake", None)
    code = pytest.main([*_args(tmp_path), str(tmp_path)], plugins=[broken])
    assert code == 0
    err = capsys.readouterr().err
    assert f"summary: failed while writing the summary: RuntimeError: summary bug near {MASK}" in err
    assert SECRET not in err
    assert broken.written == []


def test_parsing_helpers_on_schemathesis_and_pytest_decorations() -> None:
    text = """
  | schemathesis.core.failures.FailureGroup: Schemathesis found 2 distinct failures
  |
  | - ST101 Server error
  |
  | - ST901 Custom check failed: `problem_details_on_errors`
  |
  | Reproduce with:
  |
  |     curl -X PUT -H 'Authorization: [Filtered]' -d '{"x": 1}' http://localhost/api/lead/ld_9
E       contract `requires_auth` violated: a 200 without a token
E           curl -X DELETE 'https://h/api/leads/ld_9?x=1'
"""
    assert [c.label for c in contracts_in(text)] == [
        "Server error (ST101)",
        "problem_details_on_errors (custom check, ST901)",
        "requires_auth",
    ]
    commands = reproducers(text)
    assert commands == [
        "curl -X PUT -H 'Authorization: [Filtered]' -d '{\"x\": 1}' http://localhost/api/lead/ld_9",
        "curl -X DELETE 'https://h/api/leads/ld_9?x=1'",
    ]
    operations = Operations(["PUT /lead/{leadID}", "GET /lead/by-alias", "GET /lead/{leadID}", "DELETE /leads/{id}"])
    assert operations.of_reproducers(commands) == ["PUT /lead/{leadID}", "DELETE /leads/{id}"]
    assert operations.of_request("GET", "/lead/by-alias") == "GET /lead/by-alias"
    assert operations.of_request("GET", "/unknown/1") == "GET /unknown/1"


def test_the_previous_report_may_be_the_file_this_run_overwrites(tmp_path: Path) -> None:
    """The runner passes reports/summary.json: the first run notes it is missing, the next compares with it."""
    previous = tmp_path / "reports" / "summary.json"
    first = run_suite(tmp_path, "def test_a():\n    assert False, 'contract `x` violated: no'\n", previous=previous)
    assert first.data["changes"] is None
    assert any("could not be read" in note for note in first.data["notes"])
    second = run_suite(tmp_path, "def test_a():\n    pass\n", previous=previous)
    assert [p["contract"] for p in second.data["changes"]["fixed"]] == ["x"]
    assert second.data["verdict"] == "passed"


@pytest.mark.slow
def test_schemathesis_operations_are_counted_per_operation(tmp_path: Path) -> None:
    """The real conformance test against the in-process mock: each operation (a Schemathesis subtest
    under its own node id) is counted as passed in its row, never left "unfinished"."""
    contracts = Path(__file__).resolve().parents[1] / "contracts"
    summary = RunSummary(tmp_path, header="in-process mock")
    code = pytest.main(
        [str(contracts / "test_conformance.py"), "-q", "-p", "no:cacheprovider", "-o", "addopts="],
        plugins=[TargetPlugin(Target(mode="mock", token=MOCK_TOKEN, max_examples=1)), summary],
    )
    assert code == 0
    data = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert data["counts"].get("unfinished", 0) == 0, data["counts"]
    rows = {row["operation"]: row for row in data["operations"]}
    assert rows["GET /lead/{leadID}"]["passed"] == 1, rows["GET /lead/{leadID}"]
    assert sum(row["passed"] for row in rows.values()) >= len(load_contract().operations)
