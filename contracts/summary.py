"""A human summary of one conformance run, beside the JUnit XML: Markdown, a self-contained HTML page and JSON.

`RunSummary` is a pytest plugin object. It collects every test report (setup, call, teardown, subtests,
collection errors) and, when the session finishes (also after Ctrl-C), writes to `out_dir`:

- `summary.md`: verdict, the run's header, duration, counts, a table per operation and per contract, every
  failure with its reproducers (curl) verbatim, retries, drift, notes, and what changed since a previous
  report;
- `summary.html`: the same as one page with no external resource (no script, no stylesheet link, no
  font; a Content-Security-Policy forbids loading anything), every text escaped;
- `summary.json`: the same data, for the next run to diff against (`previous=`).

Failures are grouped by operation (from Schemathesis' test ids `test_x[GET /lead/{leadID}]`, else from the
`curl -X METHOD 'URL'` lines of the reproducers, mapped back to the path templates seen in the run) and by
contract (`contract \\`NAME\\` violated` from `contracts/verdict.py`; Schemathesis' `- ST108 Response violates
schema` and `- ST901 Custom check failed: \\`name\\`` lines; else the exception type).

Every text written (failures, reproducers, header, extras) goes through `redact` first; if `redact` itself
fails, the text is replaced, never written in clear. No hook raises: a fault in the summary is reported on
stderr and the test results stand.

How the runner registers it (contracts/runner.py)::

    from contracts.summary import RunSummary

    summary = RunSummary(
        args.report_dir,
        header=target.describe(),
        previous=args.report_dir / "summary.json",  # the last run's; read before it is overwritten
        extras=lambda: {"retries": ..., "drift": ..., "requests": ..., "notes": [...], "verdict": ...},
        redact=mask_credentials,  # removes every token of the run from a text
    )
    code = pytest.main([...], plugins=[TargetPlugin(target), summary])
    print(f"leadvibe-contracts: summary in {summary.markdown_path}", flush=True)
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

FORMAT = "leadvibe-contracts-summary/1"
# How a run differs from the previous one, section by section (Markdown and HTML alike).
CHANGE_SECTIONS = (
    ("new", "New failures"),
    ("fixed", "Fixed"),
    ("unchanged", "Still failing"),
    ("not_run", "Failing before, not run this time"),
)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
NO_OPERATION = "(no single operation)"
EXCERPT_LINES = 60
EXCERPT_CHARS = 6000
TEXT_CHARS = 40000
VERDICTS = {0: "passed", 1: "contract broken", 2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests"}
OUTCOME_RANK = {"unfinished": -1, "skipped": 0, "xfailed": 1, "passed": 2, "xpassed": 3, "failed": 4, "error": 5}

_OPERATION_ID = re.compile(rf"\[({'|'.join(METHODS)}) (/[^\]\s]*)\]")
_CONTRACT = re.compile(r"contract `([A-Za-z0-9_.:-]+)` violated")
_ST_LINE = re.compile(r"^- (ST\d{3}) (.+?)(?: \(\d+ violations\))?$")
_CUSTOM = re.compile(r"^Custom check failed: `([^`]+)`$")
_PREFIX = re.compile(r"^(?:\s*(?:\||E(?=\s)))*\s*")
_SUBTESTS_FAILED = re.compile(r"^contains \d+ failed subtests?$")
_GROUP_PIPES = re.compile(r"^(?:\s*\|)+ ?")
_BLOCK_START = re.compile(r"Schemathesis found \d+ distinct failure|contract `[A-Za-z0-9_.:-]+` violated")
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Violation|Exhausted|Interrupt|Failure|Group|Exit)\w*)\b")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------------------
# Reading failure texts


def _clean(line: str) -> str:
    """A line of a pytest/Schemathesis failure without its decoration (`E   `, exception-group `|`)."""
    return _PREFIX.sub("", line.rstrip())


def reproducers(text: str) -> list[str]:
    """The curl commands of a failure text, verbatim, in order, without duplicates (continuations joined)."""
    found: list[str] = []
    lines = [_clean(line) for line in text.splitlines()]
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.startswith("curl "):
            continue
        command = line
        while command.endswith("\\") and index < len(lines):
            command = f"{command}\n{lines[index]}"
            index += 1
        if command not in found:
            found.append(command)
    return found


@dataclass(frozen=True)
class Contract:
    """A contract or check a failure names: ours (`semantic`), Schemathesis' (`schemathesis`, `custom check`)."""

    name: str
    kind: str
    code: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "schemathesis" and self.code:
            return f"{self.name} ({self.code})"
        if self.kind == "custom check":
            return f"{self.name} (custom check{', ' + self.code if self.code else ''})"
        return self.name

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "code": self.code, "label": self.label}


def contracts_in(text: str) -> list[Contract]:
    """Every contract a failure text names, in order, without duplicates."""
    found: list[Contract] = []
    for raw in text.splitlines():
        line = _clean(raw)
        candidates = [Contract(name, "semantic") for name in _CONTRACT.findall(line)]
        st = _ST_LINE.match(line)
        if st:
            code, title = st.group(1), st.group(2).strip()
            custom = _CUSTOM.match(title)
            candidates.append(
                Contract(custom.group(1), "custom check", code) if custom else Contract(title, "schemathesis", code)
            )
        for contract in candidates:
            if contract not in found:
                found.append(contract)
    return found


def _exception_name(message: str) -> str | None:
    first = _clean(message.strip().splitlines()[0]) if message.strip() else ""
    match = _EXCEPTION.match(first)
    return match.group(1).rsplit(".", 1)[-1] if match else None


def _excerpt(text: str) -> str:
    lines = text.strip("\n").splitlines()
    cut = "\n".join(lines[:EXCERPT_LINES])
    if len(cut) > EXCERPT_CHARS:
        cut = cut[:EXCERPT_CHARS]
    if cut != text.strip("\n"):
        cut += "\n[... cut; the whole text is in summary.json and summary.html]"
    return cut


def _truncate(text: str, limit: int = TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


# ---------------------------------------------------------------------------------------------------------
# Operations


def operation_of_test(nodeid: str) -> str | None:
    """`METHOD /path` from a Schemathesis test id such as `test_x[GET /lead/{leadID}]`."""
    matches = _OPERATION_ID.findall(nodeid)
    return f"{matches[-1][0]} {matches[-1][1]}" if matches else None


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    body = "".join("[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part) for part in parts)
    return re.compile(rf"(?:/.*)?{body}/?")  # a deployment may serve the API under a base path


def _curl_request(command: str) -> tuple[str, str] | None:
    """(METHOD, path) of a curl command."""
    try:
        words = shlex.split(command.replace("\\\n", " "))
    except ValueError:
        words = command.split()
    method, url = "GET", None
    for index, word in enumerate(words):
        if word in ("-X", "--request") and index + 1 < len(words):
            method = words[index + 1].upper()
        elif word.startswith("-X") and len(word) > 2:
            method = word[2:].upper()
        elif url is None and re.match(r"^https?://", word):
            url = word
    if url is None:
        return None
    return method, urlsplit(url).path or "/"


class Operations:
    """Maps a concrete request (`GET /lead/ld_123`) to its operation (`GET /lead/{leadID}`)."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._templates: dict[str, tuple[str, str, re.Pattern[str]]] = {}
        for operation in known:
            self.learn(operation)

    def learn(self, operation: str) -> None:
        method, _, path = operation.partition(" ")
        if operation not in self._templates and path.startswith("/"):
            self._templates[operation] = (method.upper(), path, _template_pattern(path))

    def of_request(self, method: str, path: str) -> str:
        best: tuple[int, int, str] | None = None
        for operation, (known_method, template, pattern) in self._templates.items():
            if known_method != method or not pattern.fullmatch(path):
                continue
            literal = len(re.sub(r"\{[^}]*\}", "", template))
            score = (-template.count("{"), literal, operation)
            if best is None or score > best:
                best = score
        return best[2] if best else f"{method} {path}"

    def of_reproducers(self, commands: Iterable[str]) -> list[str]:
        found: list[str] = []
        for command in commands:
            request = _curl_request(command)
            if request is not None:
                operation = self.of_request(*request)
                if operation not in found:
                    found.append(operation)
        return found


def _operation_sort_key(operation: str) -> tuple[int, str, int]:
    if operation == NO_OPERATION:
        return (1, "", 0)
    method, _, path = operation.partition(" ")
    return (0, path, METHODS.index(method) if method in METHODS else len(METHODS))


# ---------------------------------------------------------------------------------------------------------
# What the hooks collect


@dataclass
class FailureRecord:
    nodeid: str
    when: str
    outcome: str  # failed or error
    subtest: str | None
    message: str
    text: str
    reproducers: list[str]
    contracts: list[Contract]
    operations: list[str] = field(default_factory=list)


@dataclass
class TestRecord:
    nodeid: str
    operation: str | None
    outcome: str = "unfinished"  # until a report says how it ended (an interrupted test never does)
    duration: float = 0.0
    skip_reason: str | None = None
    subtests: list[dict[str, str]] = field(default_factory=list)
    seen_call: bool = False

    def worsen(self, outcome: str) -> None:
        if not self.seen_call or OUTCOME_RANK[outcome] > OUTCOME_RANK[self.outcome]:
            self.outcome = outcome
        self.seen_call = True


def _subtest_of(report: Any) -> str | None:
    """The description of a pytest 9 subtest report (`[msg] (k=v)`), None for a test's own report."""
    context = getattr(report, "context", None)
    if context is None or not hasattr(context, "kwargs"):
        legacy = getattr(report, "subtest", None)
        return str(legacy) if legacy is not None else None
    parts = []
    if getattr(context, "msg", None) is not None:
        parts.append(f"[{context.msg}]")
    if context.kwargs:
        parts.append("(" + ", ".join(f"{k}={v}" for k, v in context.kwargs.items()) + ")")
    return " ".join(parts) or "(<subtest>)"


def _texts(report: pytest.TestReport | pytest.CollectReport) -> tuple[str, str]:
    """(message, whole text) of a failed report: the exception as raised, and the whole longrepr."""
    text = report.longreprtext or str(report.longrepr or "")
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if not isinstance(message, str) or not message.strip():
        lines = text.strip().splitlines()
        message = "\n".join(lines[-EXCERPT_LINES:])
    if not (contracts_in(message) or reproducers(message)):
        block = _failure_block(text)  # an exception group: the crash line only says how many failures
        if block:
            message = f"{message.strip()}\n\n{block}"
    return message, text


def _failure_block(text: str) -> str:
    """The first Schemathesis report or contract message inside a decorated traceback, undecorated."""
    lines = [_GROUP_PIPES.sub("", line.rstrip()) for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if _BLOCK_START.search(line)), None)
    if start is None:
        return ""
    block: list[str] = []
    for line in lines[start:]:
        if line.lstrip().startswith("+-") or "sub-exception" in line or len(block) >= EXCERPT_LINES:
            break
        block.append(line)
    return "\n".join(block).strip("\n")


def _failure(nodeid: str, when: str, outcome: str, subtest: str | None, message: str, text: str) -> FailureRecord:
    # an exception group holds several reports (one per example Hypothesis kept): every one counts
    commands = reproducers(f"{message}\n{text}")
    named = contracts_in(f"{message}\n{text}")
    if not named:
        exception = _exception_name(message)
        kind = f"error in {when}" if outcome == "error" else "unclassified"
        named = [Contract(exception or "failure without a contract name", kind)]
    return FailureRecord(nodeid, when, outcome, subtest, message, _truncate(text), commands, named)


def _skip_reason(report: pytest.TestReport) -> str | None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return getattr(report, "wasxfail", None) or None


# ---------------------------------------------------------------------------------------------------------
# Redaction


class _Redactor:
    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact
        self.failed = False

    def text(self, value: str) -> str:
        try:
            result = self._redact(value)
        except Exception:
            self.failed = True
            return "[redaction failed: text withheld]"
        return result if isinstance(result, str) else "[redaction failed: text withheld]"

    def tree(self, value: Any) -> Any:
        """Every string of a JSON-like value redacted, keys included; other objects become redacted text."""
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.tree(v) for v in value]
        return self.text(repr(value))


# ---------------------------------------------------------------------------------------------------------
# The plugin


class RunSummary:
    """Pytest plugin: collects the run's reports and writes summary.md, summary.html and summary.json."""

    def __init__(
        self,
        out_dir: Path,
        header: str,
        previous: Path | None = None,
        extras: Callable[[], Mapping[str, Any]] | None = None,
        redact: Callable[[str], str] = lambda s: s,
        *,
        operations: Iterable[str] = (),
    ) -> None:
        self.out_dir = Path(out_dir)
        self.header = header
        self.previous = previous
        self.extras = extras
        self.redact = redact
        self._operations = Operations(operations)
        self._tests: dict[str, TestRecord] = {}
        self._failures: list[FailureRecord] = []
        self._notes: list[str] = []
        self._started = time.monotonic()
        self._started_at = _now()
        self.data: dict[str, Any] | None = None  # what was written, redacted (after the session)
        self.written: list[Path] = []

    @property
    def markdown_path(self) -> Path:
        return self.out_dir / "summary.md"

    @property
    def html_path(self) -> Path:
        return self.out_dir / "summary.html"

    @property
    def json_path(self) -> Path:
        return self.out_dir / "summary.json"

    # -- hooks ------------------------------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._started = time.monotonic()
        self._started_at = _now()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        try:
            if report.failed:
                message, text = _texts(report)
                record = self._test(report.nodeid or "<collection>")
                record.worsen("error")
                self._failures.append(_failure(record.nodeid, "collect", "error", None, message, text))
        except Exception as exc:
            self._complain("collecting a collection report", exc)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        try:
            self._collect(report)
        except Exception as exc:
            self._complain(f"collecting the report of {report.nodeid}", exc)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
        try:
            self.write(int(exitstatus))
        except Exception as exc:
            self._complain("writing the summary", exc)

    # -- collection -------------------------------------------------------------------------------------

    def _test(self, nodeid: str) -> TestRecord:
        record = self._tests.get(nodeid)
        if record is None:
            operation = operation_of_test(nodeid)
            if operation is not None:
                self._operations.learn(operation)
            record = self._tests[nodeid] = TestRecord(nodeid, operation)
        return record

    def _parent_of(self, nodeid: str) -> TestRecord | None:
        """The test a Schemathesis subtest (`test[GET /x][GET /x]`) belongs to, when that test is already
        the operation's own (`test[GET /x]`, one test per operation): one test, not two."""
        parent = self._tests.get(nodeid[: nodeid.rfind("[")]) if nodeid.endswith("]") else None
        if parent is not None and parent.operation is not None and parent.operation == operation_of_test(nodeid):
            return parent
        return None

    def _collect(self, report: pytest.TestReport) -> None:
        subtest = _subtest_of(report)
        record = (self._parent_of(report.nodeid) if subtest is not None else None) or self._test(report.nodeid)
        if subtest is not None:
            outcome: str = "xfailed" if report.skipped and hasattr(report, "wasxfail") else report.outcome
            record.subtests.append({"subtest": subtest, "outcome": outcome})
            # Schemathesis reports each operation as a subtest under its own node id (`test[GET /x]`): the
            # subtest's outcome is that record's outcome, or it would stay "unfinished".
            record.worsen(outcome)
            if record.nodeid == report.nodeid:  # a folded subtest's time is in its test's own call already
                record.duration += float(report.duration or 0.0)
            if report.failed:
                message, text = _texts(report)
                self._failures.append(_failure(report.nodeid, report.when, "failed", subtest, message, text))
            return
        record.duration += float(report.duration or 0.0)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if report.skipped:
                outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
                record.skip_reason = _skip_reason(report)
            elif report.failed:
                outcome = "error" if report.when == "setup" else "failed"
            else:
                outcome = "xpassed" if hasattr(report, "wasxfail") else "passed"
            record.worsen(outcome)
        elif report.when == "teardown" and report.failed:
            record.worsen("error")
        if report.failed:
            message, text = _texts(report)
            if any(s["outcome"] == "failed" for s in record.subtests) and _SUBTESTS_FAILED.match(text.strip()):
                return  # pytest's own line for a test whose subtests failed: each is a failure already
            outcome = "failed" if report.when == "call" else "error"
            self._failures.append(_failure(report.nodeid, report.when, outcome, None, message, text))

    def _complain(self, doing: str, exc: BaseException) -> None:
        try:
            detail = _Redactor(self.redact).text(f"{type(exc).__name__}: {exc}")
            self._notes.append(f"the summary failed while {doing}: {detail}")
            print(f"leadvibe-contracts: summary: failed while {doing}: {detail}", file=sys.stderr, flush=True)
        except Exception:
            print(f"leadvibe-contracts: summary: failed while {doing}", file=sys.stderr, flush=True)

    # -- building ---------------------------------------------------------------------------------------

    def build(self, exitstatus: int) -> dict[str, Any]:
        """The run as JSON-like data, not yet redacted."""
        notes = list(self._notes)
        extras = self._extras(notes)
        for failure in self._failures:
            test = self._tests.get(failure.nodeid)
            if test is not None and test.operation is not None:
                failure.operations = [test.operation]
            else:
                failure.operations = self._operations.of_reproducers(failure.reproducers)
        counts = dict.fromkeys(OUTCOME_RANK, 0)
        for test in self._tests.values():
            counts[test.outcome] += 1
        counts["total"] = len(self._tests)
        counts["subtests_failed"] = sum(1 for t in self._tests.values() for s in t.subtests if s["outcome"] == "failed")
        failures = [self._failure_json(index, failure) for index, failure in enumerate(self._failures, 1)]
        verdict = extras.get("verdict")
        data: dict[str, Any] = {
            "format": FORMAT,
            "started_at": self._started_at,
            "generated_at": _now(),
            "header": self.header,
            "verdict": str(verdict) if verdict else VERDICTS.get(exitstatus, f"exit status {exitstatus}"),
            "exit_status": extras.get("exit_status", exitstatus),
            "duration_s": round(time.monotonic() - self._started, 3),
            "requests": extras.get("requests"),
            "counts": counts,
            "operations": self._operation_rows(),
            "contracts": self._contract_rows(failures),
            "failures": failures,
            "tests": [self._test_json(test) for test in self._tests.values()],
            "retries": _records(extras, "retries", ("method", "path", "status", "attempts", "waited_s"), notes),
            "drift": _records(extras, "drift", ("operation", "kind", "name", "sample"), notes),
            "notes": notes,
            "changes": None,
        }
        extra_notes = extras.get("notes")
        if isinstance(extra_notes, list | tuple):
            notes.extend(str(note) for note in extra_notes)
        elif extra_notes is not None:
            notes.append(str(extra_notes))
        data["changes"] = self._changes(data, notes)
        return data

    def _extras(self, notes: list[str]) -> Mapping[str, Any]:
        if self.extras is None:
            return {}
        try:
            extras: Any = self.extras()
        except Exception as exc:
            notes.append(f"the run's extra data could not be read: {type(exc).__name__}: {exc}")
            return {}
        if not isinstance(extras, Mapping):
            notes.append(f"the run's extra data is not a mapping ({type(extras).__name__}): ignored")
            return {}
        return extras

    def _failure_json(self, index: int, failure: FailureRecord) -> dict[str, Any]:
        return {
            "id": f"f{index}",
            "key": _key(failure.nodeid, failure.subtest),
            "nodeid": failure.nodeid,
            "when": failure.when,
            "outcome": failure.outcome,
            "subtest": failure.subtest,
            "operations": failure.operations,
            "contracts": [contract.as_json() for contract in failure.contracts],
            "message": _truncate(failure.message, EXCERPT_CHARS * 2),
            "reproducers": failure.reproducers,
            "text": failure.text,
        }

    def _test_json(self, test: TestRecord) -> dict[str, Any]:
        return {
            "nodeid": test.nodeid,
            "operation": test.operation,
            "outcome": test.outcome,
            "duration_s": round(test.duration, 3),
            "skip_reason": test.skip_reason,
            "subtests": test.subtests,
        }

    def _operations_of(self, test: TestRecord) -> list[str]:
        if test.operation is not None:
            return [test.operation]
        found: list[str] = []
        for failure in self._failures:
            if failure.nodeid == test.nodeid:
                found += [op for op in failure.operations if op not in found]
        return found or [NO_OPERATION]

    def _operation_rows(self) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for test in self._tests.values():
            for operation in self._operations_of(test):
                row = rows.setdefault(
                    operation,
                    {"operation": operation, "passed": 0, "failed": 0, "error": 0, "skipped": 0, "duration_s": 0.0},
                )
                column = {"xpassed": "passed", "xfailed": "skipped"}.get(test.outcome, test.outcome)
                if column in row:
                    row[column] += 1
                row["duration_s"] = round(row["duration_s"] + test.duration, 3)
        return [rows[key] for key in sorted(rows, key=_operation_sort_key)]

    @staticmethod
    def _contract_rows(failures: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for failure in failures:
            for contract in failure["contracts"]:
                row = rows.setdefault(
                    (contract["kind"], contract["name"]), {**contract, "failures": 0, "operations": [], "ids": []}
                )
                row["failures"] += 1
                row["ids"].append(failure["id"])
                row["operations"] += [op for op in failure["operations"] if op not in row["operations"]]
        return sorted(rows.values(), key=lambda row: (-row["failures"], row["label"]))

    def _changes(self, data: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
        if self.previous is None:
            return None
        try:
            before = _read_previous(Path(self.previous))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            notes.append(f"the previous report {self.previous} could not be read, so no comparison: {exc}")
            return None
        now = _pairs(data["failures"])
        ran = {test["nodeid"] for test in data["tests"]}
        changes: dict[str, Any] = {
            "previous": str(self.previous),
            "previous_generated_at": before.get("generated_at"),
            "previous_verdict": before.get("verdict"),
            "previous_counts": before.get("counts"),
            "new": [],
            "fixed": [],
            "unchanged": [],
            "not_run": [],
        }
        for key, pair in now.items():
            changes["unchanged" if key in before["pairs"] else "new"].append(pair)
        for key, pair in before["pairs"].items():
            if key not in now:
                changes["fixed" if pair["nodeid"] in ran else "not_run"].append(pair)
        return changes

    # -- writing ----------------------------------------------------------------------------------------

    def write(self, exitstatus: int) -> None:
        redactor = _Redactor(self.redact)
        data = redactor.tree(self.build(exitstatus))
        if redactor.failed:
            data["notes"].append("redaction failed on some texts: they were withheld")
        self.data = data
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for path, render in (
            (self.json_path, render_json),
            (self.markdown_path, render_markdown),
            (self.html_path, render_html),
        ):
            try:
                _write_atomically(path, render(data))
                self.written.append(path)
            except Exception as exc:
                self._complain(f"writing {path}", exc)


def _key(nodeid: str, subtest: str | None) -> str:
    return f"{nodeid} {subtest}" if subtest else nodeid


def _pairs(failures: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """(test, contract) pairs of failures, the unit a comparison between runs counts in."""
    pairs: dict[str, dict[str, Any]] = {}
    for failure in failures:
        for contract in failure["contracts"]:
            label = contract["label"] if isinstance(contract, Mapping) else str(contract)
            key = f"{failure['key']} :: {label}"
            pairs.setdefault(
                key,
                {
                    "key": key,
                    "nodeid": str(failure["nodeid"]),
                    "subtest": failure.get("subtest"),
                    "contract": label,
                    "operations": list(failure.get("operations") or []),
                },
            )
    return pairs


def _read_previous(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} document")
    failures = document["failures"]
    if not isinstance(failures, list):
        raise TypeError("its failures are not a list")
    return {**document, "pairs": _pairs(failures)}


def _records(extras: Mapping[str, Any], name: str, columns: tuple[str, ...], notes: list[str]) -> list[dict[str, Any]]:
    value = extras.get(name)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        notes.append(f"the run's {name!r} is not a list: ignored")
        return []
    rows = []
    for item in value:
        if isinstance(item, Mapping):
            rows.append({column: item.get(column) for column in columns} | dict(item))
        else:
            notes.append(f"an entry of {name!r} is not a mapping: {item!r}")
    return rows


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------------------
# Rendering (from redacted data only)


def render_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _value(value: Any, limit: int = 200) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lines(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Facts of the run for its first lines: (label, value)."""
    counts = data["counts"]
    yield "Verdict", str(data["verdict"])
    yield "Exit status", str(data["exit_status"])
    yield "Duration", f"{data['duration_s']:.1f} s"
    shown = ", ".join(
        f"{counts[name]} {name}"
        for name in ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "unfinished")
        if counts[name]
    )
    yield "Tests", f"{counts['total']} ({shown or 'none ran'})"
    if counts.get("subtests_failed"):
        yield "Failed subtests", str(counts["subtests_failed"])
    if data.get("requests") is not None:
        yield "Requests", str(data["requests"])
    yield "Started", str(data["started_at"])
    yield "Written", str(data["generated_at"])


def _md_text(text: Any) -> str:
    """Text for a Markdown paragraph or table cell: one line, no HTML, no table break."""
    value = " ".join(str(text).split())
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        value = value.replace(char, entity)
    return value


def _md_code(text: Any) -> str:
    value = " ".join(str(text).split()).replace("|", "\\|")
    if not value:
        return ""
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def _md_block(text: str, language: str = "") -> list[str]:
    fence = "`" * max(3, max((len(run) + 1 for run in re.findall(r"`{3,}", text)), default=3))
    return [f"{fence}{language}", *text.splitlines(), fence]


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _operation_cells(row: Mapping[str, Any], code: Callable[[Any], str]) -> list[str]:
    counts = (str(row[column]) for column in ("passed", "failed", "error", "skipped"))
    return [code(row["operation"]), *counts, f"{row['duration_s']:.1f}"]


def _joined(items: Iterable[Any], code: Callable[[Any], str]) -> str:
    return ", ".join(code(item) for item in items)


def _pair_test(pair: Mapping[str, Any]) -> str:
    return f"{pair['nodeid']} {pair['subtest']}" if pair.get("subtest") else str(pair["nodeid"])


def _h_code(value: Any) -> str:
    return f"<code>{_h(value)}</code>"


def _failure_title(failure: Mapping[str, Any]) -> str:
    subtest = f" {failure['subtest']}" if failure.get("subtest") else ""
    return f"{failure['nodeid']}{subtest} ({failure['outcome']} in {failure['when']})"


def render_markdown(data: Mapping[str, Any]) -> str:
    out = [f"# LeadVibe contracts: {_md_text(data['verdict'])}", ""]
    out += [f"- **{label}**: {_md_text(value)}" for label, value in _lines(data)]
    out += ["", "## Run", "", *_md_block(str(data["header"]) or "(no description)"), ""]
    out += ["## Operations", ""]
    if data["operations"]:
        out += _md_table(
            ["operation", "passed", "failed", "errors", "skipped", "seconds"],
            [_operation_cells(r, _md_code) for r in data["operations"]],
        )
    else:
        out.append("No test ran.")
    out += ["", "## Contracts", ""]
    if data["contracts"]:
        out += _md_table(
            ["contract", "kind", "failures", "operations"],
            [
                [_md_code(r["label"]), _md_text(r["kind"]), str(r["failures"]), _joined(r["operations"], _md_code)]
                for r in data["contracts"]
            ],
        )
    else:
        out.append("No contract was violated.")
    out += ["", f"## Failures ({len(data['failures'])})", ""]
    if not data["failures"]:
        out += ["None.", ""]
    for failure in data["failures"]:
        out += [f"### {failure['id']}. {_md_text(_failure_title(failure))}", ""]
        out.append("- **Contracts**: " + ", ".join(_md_code(c["label"]) for c in failure["contracts"]))
        if failure["operations"]:
            out.append("- **Operations**: " + ", ".join(_md_code(op) for op in failure["operations"]))
        out += ["", *_md_block(_excerpt(str(failure["message"]))), ""]
        if failure["reproducers"]:
            out += ["Reproduce with:", "", *_md_block("\n".join(failure["reproducers"]), "sh"), ""]
        else:
            out += ["No reproducer in the failure text.", ""]
    out += _md_section_rows(
        "Retries",
        data["retries"],
        ["method", "path", "status", "attempts", "waited_s"],
        "No request was retried.",
    )
    out += _md_section_rows("Drift", data["drift"], ["operation", "kind", "name", "sample"], "No drift observed.")
    out += _md_changes(data.get("changes"))
    out += ["## Notes", ""]
    out += [f"- {_md_text(note)}" for note in data["notes"]] or ["None."]
    return "\n".join(out) + "\n"


def _md_section_rows(title: str, rows: list[Mapping[str, Any]], columns: list[str], empty: str) -> list[str]:
    out = [f"## {title} ({len(rows)})", ""]
    if not rows:
        return [*out, empty, ""]
    code = ("path", "operation", "sample")
    cells = [[(_md_code if c in code else _md_text)(_value(row.get(c))) for c in columns] for row in rows]
    return [*out, *_md_table(columns, cells), ""]


def _md_changes(changes: Mapping[str, Any] | None) -> list[str]:
    if not changes:
        return []
    out = ["## Since the previous report", ""]
    out.append(
        f"Compared with {_md_code(changes['previous'])} (written {_md_text(changes.get('previous_generated_at'))}, "
        f"verdict {_md_text(changes.get('previous_verdict'))})."
    )
    out.append("")
    for name, title in CHANGE_SECTIONS:
        pairs = changes[name]
        out += [f"**{title} ({len(pairs)})**", ""]
        out += [f"- {_md_code(_pair_test(p))}: {_md_code(p['contract'])}" for p in pairs] or ["- none"]
        out.append("")
    return out


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:70em;color:#1b1f24;
padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f6f8fa}td.n{text-align:right}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
code{background:#f6f8fa;padding:0 .2em}
.verdict{display:inline-block;padding:.15em .6em;border-radius:.3em;color:#fff;font-weight:600}
.ok{background:#1a7f37}.bad{background:#cf222e}.warn{background:#9a6700}
section.failure{border-left:4px solid #cf222e;padding-left:1em;margin:1.2em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{font-weight:600}dd{margin:0}
"""


def _h(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _h_table(head: list[str], rows: list[list[str]], numeric: Iterable[int] = ()) -> str:
    right = set(numeric)
    cells = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in right else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return (
        "<table><thead><tr>"
        + "".join(f"<th>{_h(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{cells}</tbody></table>"
    )


def render_html(data: Mapping[str, Any]) -> str:
    verdict = str(data["verdict"])
    tone = "ok" if verdict == "passed" else "bad" if data["failures"] or verdict == "contract broken" else "warn"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>LeadVibe contracts: {_h(verdict)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<h1>LeadVibe contracts <span class="verdict {tone}">{_h(verdict)}</span></h1>',
        "<dl>" + "".join(f"<dt>{_h(label)}</dt><dd>{_h(value)}</dd>" for label, value in _lines(data)) + "</dl>",
        f"<h2>Run</h2><pre>{_h(data['header'] or '(no description)')}</pre>",
        "<h2>Operations</h2>",
    ]
    if data["operations"]:
        parts.append(
            _h_table(
                ["operation", "passed", "failed", "errors", "skipped", "seconds"],
                [_operation_cells(r, _h_code) for r in data["operations"]],
                numeric=range(1, 6),
            )
        )
    else:
        parts.append("<p>No test ran.</p>")
    parts.append("<h2>Contracts</h2>")
    if data["contracts"]:
        parts.append(
            _h_table(
                ["contract", "kind", "failures", "operations", "see"],
                [
                    [
                        _h_code(r["label"]),
                        _h(r["kind"]),
                        _h(r["failures"]),
                        _joined(r["operations"], _h_code),
                        " ".join(f'<a href="#{_h(i)}">{_h(i)}</a>' for i in r["ids"]),
                    ]
                    for r in data["contracts"]
                ],
                numeric=[2],
            )
        )
    else:
        parts.append("<p>No contract was violated.</p>")
    parts.append(f"<h2>Failures ({len(data['failures'])})</h2>")
    if not data["failures"]:
        parts.append("<p>None.</p>")
    for failure in data["failures"]:
        contracts = _joined((c["label"] for c in failure["contracts"]), _h_code)
        operations = _joined(failure["operations"], _h_code) or "none identified"
        anchor, title = _h(failure["id"]), _h(f"{failure['id']}. {_failure_title(failure)}")
        reproduce = (
            f"<p>Reproduce with:</p><pre>{_h(chr(10).join(failure['reproducers']))}</pre>"
            if failure["reproducers"]
            else "<p>No reproducer in the failure text.</p>"
        )
        parts.append(
            f'<section class="failure" id="{anchor}"><h3>{title}</h3>'
            f"<dl><dt>Contracts</dt><dd>{contracts}</dd><dt>Operations</dt><dd>{operations}</dd></dl>"
            f"<pre>{_h(_excerpt(str(failure['message'])))}</pre>{reproduce}"
            f"<details><summary>Whole output</summary><pre>{_h(failure['text'])}</pre></details></section>"
        )
    parts += _html_rows(
        "Retries", data["retries"], ["method", "path", "status", "attempts", "waited_s"], "No request was retried."
    )
    parts += _html_rows("Drift", data["drift"], ["operation", "kind", "name", "sample"], "No drift observed.")
    parts += _html_changes(data.get("changes"))
    parts.append("<h2>Notes</h2>")
    parts.append(
        "<ul>" + "".join(f"<li>{_h(n)}</li>" for n in data["notes"]) + "</ul>" if data["notes"] else "<p>None.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_rows(title: str, rows: list[Mapping[str, Any]], columns: list[str], empty: str) -> list[str]:
    out = [f"<h2>{_h(title)} ({len(rows)})</h2>"]
    if not rows:
        return [*out, f"<p>{_h(empty)}</p>"]
    return [*out, _h_table(columns, [[_h(_value(row.get(c))) for c in columns] for row in rows])]


def _html_changes(changes: Mapping[str, Any] | None) -> list[str]:
    if not changes:
        return []
    out = [
        "<h2>Since the previous report</h2>",
        f"<p>Compared with <code>{_h(changes['previous'])}</code> (written {_h(changes.get('previous_generated_at'))}, "
        f"verdict {_h(changes.get('previous_verdict'))}).</p>",
    ]
    for name, title in CHANGE_SECTIONS:
        pairs = changes[name]
        items = "".join(
            f"<li><code>{_h(p['nodeid'])}</code>{' ' + _h(p['subtest']) if p.get('subtest') else ''}: "
            f"<code>{_h(p['contract'])}</code></li>"
            for p in pairs
        )
        out.append(f"<h3>{_h(title)} ({len(pairs)})</h3>" + (f"<ul>{items}</ul>" if items else "<p>none</p>"))
    return out
