"""summary.md and summary.json of a live run, beside the JUnit XML every CI shows.

`RunSummary` is a pytest plugin of the runner (contracts/runner.py). It reads the findings each failing
test recorded where it failed (contracts/findings.py) and, when the session ends (also after Ctrl-C),
writes the verdict, the counts per operation and per contract, every finding with its request and
reproducer, the run's retries, drift and notes, and what changed since the previous summary.json.
Every text goes through `redact` first and fails closed (contracts.redact.scrubbed). No hook raises: a
fault of the summary is a note and a line on stderr, and the test results stand. Another section of
summary.md (API coverage, say) is one call: `summary.add_section(render)`, `render` returning Markdown.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.findings import KEY, Finding
from contracts.redact import WITHHELD, scrubbed

FORMAT = "leadvibe-contracts-summary/2"
VERDICTS = {0: "passed", 1: "contract broken", 2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests"}
RANK = {"unfinished": -1, "skipped": 0, "passed": 1, "failed": 2, "error": 3}  # a test's worst report wins
OTHER = "(other tests)"  # tests of no single operation: semantic contracts, stateful
RETRY_COLUMNS = ("method", "path", "status", "attempts", "waited_s")
DRIFT_COLUMNS = ("operation", "kind", "name", "sample")
CHANGES = (("new", "New"), ("fixed", "Fixed"), ("unchanged", "Still failing"), ("not_run", "Not run this time"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no message)"


def _label(finding: Mapping[str, Any]) -> str:
    return f"{finding['check']} ({finding['code']})" if finding.get("code") else str(finding["check"])


@dataclass
class TestRecord:
    operation: str | None
    outcome: str = "unfinished"  # until a report says how it ended (an interrupted test never does)


def _outcome(report: pytest.TestReport) -> str | None:
    """What a report says of its test; None for a setup or teardown that passed."""
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "skipped"
    return "passed" if report.when == "call" else None


class RunSummary:
    """Pytest plugin: collects the run's reports and findings, writes summary.md and summary.json."""

    def __init__(
        self,
        out_dir: Path,
        header: str,
        previous: Path | None = None,
        extras: Callable[[], Mapping[str, Any]] | None = None,
        redact: Callable[[str], str] = lambda s: s,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.header = header
        self.previous = previous
        self.extras = extras
        self.redact = redact
        self._tests: dict[str, TestRecord] = {}
        self._findings: list[dict[str, Any]] = []
        self._skips: Counter[str] = Counter()  # by reason
        self._sections: list[Callable[[], str]] = []
        self._notes: list[str] = []
        self._started, self._started_at = time.monotonic(), _now()
        self.data: dict[str, Any] | None = None  # what was written, redacted
        self.written: list[Path] = []

    @property
    def markdown_path(self) -> Path:
        return self.out_dir / "summary.md"

    @property
    def json_path(self) -> Path:
        return self.out_dir / "summary.json"

    def add_section(self, render: Callable[[], str]) -> None:
        """Markdown appended to summary.md when it is written (e.g. API coverage), redacted like the rest."""
        self._sections.append(render)

    # -- hooks ------------------------------------------------------------------------------------------

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            key = report.nodeid or "<collection>"
            self._tests[key] = TestRecord(None, "error")
            finding = Finding("collection error", _last_line(report.longreprtext))
            self._findings.append({"test": key, "when": "collect", **asdict(finding)})

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

    def _collect(self, report: pytest.TestReport) -> None:
        record: Mapping[str, Any] = getattr(report, KEY, None) or {}
        key = str(record.get("test") or report.nodeid)
        test = self._tests.setdefault(key, TestRecord(record.get("operation")))
        outcome = _outcome(report)
        if outcome is not None and RANK[outcome] > RANK[test.outcome]:
            test.outcome = outcome
        if report.skipped and isinstance(report.longrepr, tuple):  # (path, line, reason)
            self._skips[str(report.longrepr[2]).removeprefix("Skipped: ")] += 1
        if not report.failed:
            return
        findings = record.get("findings")
        if findings is None:  # not recorded where it failed (e.g. a worker that crashed): what pytest says
            findings = [asdict(Finding(f"{report.when} failed", _last_line(report.longreprtext), test.operation))]
        self._findings += [{"test": key, "when": report.when, **finding} for finding in findings]

    def _complain(self, doing: str, exc: BaseException) -> None:
        detail = scrubbed(f"{type(exc).__name__}: {exc}", self.redact)
        self._notes.append(f"the summary failed while {doing}: {detail}")
        print(f"leadvibe-contracts: summary: failed while {doing}: {detail}", file=sys.stderr, flush=True)

    # -- building ---------------------------------------------------------------------------------------

    def build(self, exitstatus: int) -> dict[str, Any]:
        """The run as JSON-like data, not yet redacted."""
        notes = list(self._notes)
        extras = self._extras(notes)
        findings = [{"id": f"f{index}", **finding} for index, finding in enumerate(self._findings, 1)]
        counts = Counter(test.outcome for test in self._tests.values())
        verdict = extras.get("verdict")
        extra_notes = extras.get("notes") or []
        notes += [str(note) for note in (extra_notes if isinstance(extra_notes, list | tuple) else [extra_notes])]
        data: dict[str, Any] = {
            "format": FORMAT,
            "header": self.header,
            "started_at": self._started_at,
            "generated_at": _now(),
            "verdict": str(verdict) if verdict else VERDICTS.get(exitstatus, f"exit status {exitstatus}"),
            "exit_status": extras.get("exit_status", exitstatus),
            "duration_s": round(time.monotonic() - self._started, 1),
            "requests": extras.get("requests"),
            "counts": {"total": len(self._tests), **{outcome: counts[outcome] for outcome in RANK}},
            "operations": self._operation_rows(findings),
            "contracts": _contract_rows(findings),
            "findings": findings,
            "tests": {key: test.outcome for key, test in self._tests.items()},
            "skipped": [{"reason": reason, "count": count} for reason, count in self._skips.most_common()],
            "retries": _rows(extras.get("retries"), RETRY_COLUMNS),
            "drift": _rows(extras.get("drift"), DRIFT_COLUMNS),
            "notes": notes,
        }
        data["changes"] = self._changes(data, notes)
        data["sections"] = self._rendered_sections(notes)
        return data

    def _extras(self, notes: list[str]) -> Mapping[str, Any]:
        try:
            extras = self.extras() if self.extras is not None else {}
        except Exception as exc:
            notes.append(f"the run's extra data could not be read: {type(exc).__name__}: {exc}")
            return {}
        return extras if isinstance(extras, Mapping) else {}

    def _operation_rows(self, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows: dict[str, Counter[str]] = {}
        for test in self._tests.values():
            rows.setdefault(test.operation or OTHER, Counter())[test.outcome] += 1
        for finding in findings:
            rows.setdefault(finding["operation"] or OTHER, Counter())["findings"] += 1
        order = sorted(rows, key=lambda op: (op == OTHER, op.partition(" ")[2], op))
        columns = ("passed", "failed", "error", "skipped", "findings")
        return [{"operation": op, **{column: rows[op][column] for column in columns}} for op in order]

    def _changes(self, data: Mapping[str, Any], notes: list[str]) -> dict[str, Any] | None:
        if self.previous is None:
            return None
        try:
            before = json.loads(Path(self.previous).read_text(encoding="utf-8"))
            if before.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} document")
            then = _pairs(before["findings"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            notes.append(f"the previous report {self.previous} could not be read, so no comparison: {exc}")
            return None
        now = _pairs(data["findings"])
        changes: dict[str, Any] = {"previous": str(self.previous), "previous_generated_at": before.get("generated_at")}
        changes["new"] = [pair for key, pair in now.items() if key not in then]
        changes["unchanged"] = [pair for key, pair in now.items() if key in then]
        gone = [pair for key, pair in then.items() if key not in now]
        changes["fixed"] = [pair for pair in gone if pair["test"] in data["tests"]]
        changes["not_run"] = [pair for pair in gone if pair["test"] not in data["tests"]]
        return changes

    def _rendered_sections(self, notes: list[str]) -> list[str]:
        rendered = []
        for render in self._sections:
            try:
                rendered.append(render())
            except Exception as exc:
                notes.append(f"a section of the summary could not be written: {type(exc).__name__}: {exc}")
        return rendered

    # -- writing ----------------------------------------------------------------------------------------

    def write(self, exitstatus: int) -> None:
        data: dict[str, Any] = scrubbed(self.build(exitstatus), self.redact)
        if WITHHELD in json.dumps(data):
            data["notes"].append("redaction failed on some texts: they were withheld")
        self.data = data
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for path, text in ((self.json_path, json.dumps(data, indent=2) + "\n"), (self.markdown_path, markdown(data))):
            _write_atomically(path, text)
            self.written.append(path)


def _rows(value: Any, columns: Iterable[str]) -> list[dict[str, Any]]:
    items = value if isinstance(value, list | tuple) else []
    return [{column: item.get(column) for column in columns} for item in items if isinstance(item, Mapping)]


def _contract_rows(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for finding in findings:
        row = rows.setdefault(_label(finding), {"contract": _label(finding), "findings": 0, "operations": []})
        row["findings"] += 1
        if finding["operation"] and finding["operation"] not in row["operations"]:
            row["operations"].append(finding["operation"])
    return sorted(rows.values(), key=lambda row: (-row["findings"], row["contract"]))


def _pairs(findings: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """What a comparison between runs counts: a contract broken on an operation (or by a test)."""
    pairs = {}
    for finding in findings:
        where = finding["operation"] or finding["test"]
        pairs[f"{where} :: {_label(finding)}"] = {"where": where, "contract": _label(finding), "test": finding["test"]}
    return pairs


def _write_atomically(path: Path, text: str) -> None:
    """Never a half-written summary, which the next run would compare with."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- Markdown (from redacted data only) ---------------------------------------------------------------------


def _text(value: Any) -> str:
    """One line for a paragraph or a table cell: no HTML, no table break."""
    text = " ".join(str(value).split())
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(char, entity)
    return text


def _code(value: Any) -> str:
    text = " ".join(str(value).split()).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _block(text: str, language: str = "") -> list[str]:
    """A fenced block longer than any run of backticks that starts a line of `text`."""
    longest = max((len(line) - len(line.lstrip("`")) for line in text.splitlines()), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *text.splitlines(), fence]


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(head)
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(row) + " |" for row in rows)]


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 200 else text[:199] + "…"


def markdown(data: Mapping[str, Any]) -> str:
    counts = data["counts"]
    shown = ", ".join(f"{counts[name]} {name}" for name in ("passed", "failed", "error", "skipped") if counts[name])
    out = [f"# LeadVibe contracts: {_text(data['verdict'])}", ""]
    out += [f"- **Exit status**: {data['exit_status']}", f"- **Tests**: {counts['total']} ({shown or 'none ran'})"]
    if counts["unfinished"]:
        out.append(f"- **Unfinished**: {counts['unfinished']} (the run was cut short)")
    if data["requests"] is not None:
        out.append(f"- **Requests**: {data['requests']}")
    out += [f"- **Duration**: {data['duration_s']} s, written {data['generated_at']}", ""]
    out += ["## Run", "", *_block(str(data["header"])), ""]
    out += _changes_md(data["changes"])
    out += ["## Operations", ""]
    columns = ("passed", "failed", "error", "skipped", "findings")
    out += _table(
        ("operation", *columns), ([_code(r["operation"]), *(str(r[c]) for c in columns)] for r in data["operations"])
    )
    out += ["", "## Contracts", ""]
    rows = (
        [_code(r["contract"]), str(r["findings"]), ", ".join(map(_code, r["operations"]))] for r in data["contracts"]
    )
    out += _table(("contract", "findings", "operations"), rows) if data["contracts"] else ["None was broken."]
    out += ["", f"## Findings ({len(data['findings'])})", ""]
    for finding in data["findings"]:
        where = f" on {_code(finding['operation'])}" if finding["operation"] else ""
        out += [f"### {finding['id']}. {_code(_label(finding))}{where}", ""]
        out += [
            f"- **Test**: {_code(finding['test'])} ({finding['when']})",
            f"- **Reason**: {_text(finding['reason'])}",
        ]
        out += [f"- **Request**: {_code(request)}" for request in finding["requests"]]
        out += ["", *_block("\n".join(finding["reproducers"]), "sh")] if finding["reproducers"] else []
        out.append("")
    out += [f"## Skipped ({sum(skip['count'] for skip in data['skipped'])})", ""]
    out += [*(f"- {skip['count']}: {_text(skip['reason'])}" for skip in data["skipped"]), ""]
    out += _rows_md("Retries", data["retries"], RETRY_COLUMNS) + _rows_md("Drift", data["drift"], DRIFT_COLUMNS)
    out += ["## Notes", "", *(f"- {_text(note)}" for note in data["notes"] or ["none"]), ""]
    for section in data["sections"]:
        out += [section.rstrip("\n"), ""]
    return "\n".join(out)


def _rows_md(title: str, rows: list[Mapping[str, Any]], columns: tuple[str, ...]) -> list[str]:
    table = _table(columns, ([_text(_value(row[column])) for column in columns] for row in rows))
    return [f"## {title} ({len(rows)})", "", *([*table, ""] if rows else [])]


def _changes_md(changes: Mapping[str, Any] | None) -> list[str]:
    if not changes:
        return []
    out = ["## Since the previous report", "", f"Compared with {_code(changes['previous'])}.", ""]
    for name, title in CHANGES:
        out += [f"**{title} ({len(changes[name])})**", ""]
        out += [f"- {_code(pair['contract'])} on {_code(pair['where'])}" for pair in changes[name]] or ["- none"]
        out.append("")
    return out
