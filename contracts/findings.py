"""What failed, recorded where it failed: plain-data findings on the test report, for the run summary.

`Recorder` (a pytest plugin, in the runner and in every worker) turns the exception that ended a test or a
Schemathesis subtest into findings and attaches them to the report (`report.leadvibe`), which a worker
sends to the runner as is. No text is read back:

- a Schemathesis failure (`schemathesis.errors.FailureGroup`) carries each failed check's operation,
  code, title and message; the request and its curl reproducer are those of the case, which `FailingCases`
  remembered when contracts.run validated it;
- a violated semantic contract (`contracts.verdict.ContractViolation`) carries the contract, the reason
  and the responses that show it, each with its request and reproducer;
- anything else is named by its type and the first line of its message.

Every text is redacted before it is attached.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pytest
from schemathesis import Response
from schemathesis.errors import FailureGroup

from contracts.plugin import RUN_KEY
from contracts.redact import scrubbed
from contracts.verdict import ContractViolation

KEY = "leadvibe"  # the report's attribute: {"test", "operation", "findings" (a failure only)}
REASON_CHARS = 300


@dataclass(frozen=True)
class Finding:
    check: str  # the contract, or Schemathesis' title of the failed check
    reason: str  # one line
    operation: str | None = None  # `METHOD /path` when known
    code: str | None = None  # Schemathesis' failure code (ST101, ...)
    requests: tuple[str, ...] = ()  # `METHOD URL -> status`, one per response that shows it
    reproducers: tuple[str, ...] = ()  # a curl command per request


def _line(text: str, fallback: str, *, first: bool = True) -> str:
    """One line of a message: its first, or all of it joined (Schemathesis' say what was expected below)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()] or [fallback]
    return (lines[0] if first else " ".join(lines))[:REASON_CHARS]


class FailingCases:
    """The Schemathesis case behind each failure of the running test. Of equal failures (Schemathesis' own
    equality: same kind, operation and detail) the last one's case is kept: Hypothesis replays the example
    it reports last."""

    def __init__(self) -> None:
        self._cases: dict[Any, tuple[Any, Response]] = {}

    @contextlib.contextmanager
    def watch(self, case: Any, response: Response) -> Iterator[None]:
        try:
            yield
        except FailureGroup as group:
            for failure in group.exceptions:
                self._cases[failure] = (case, response)
            raise

    def request_of(self, failure: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The request of a failure and its curl reproducer (none when its case is unknown)."""
        if failure not in self._cases:
            return (), ()
        case, response = self._cases[failure]
        sent = response.request
        request = f"{sent.method} {sent.url} -> {response.status_code}"
        try:
            curl = case.as_curl_command(headers=dict(sent.headers), verify=response.verify)
        except Exception as exc:  # a case Schemathesis cannot serialize again: said, not hidden
            curl = f"# no reproducer: {type(exc).__name__}"
        return (request,), (str(curl),)

    def clear(self) -> None:
        self._cases.clear()


def findings_of(error: BaseException, operation: str | None, cases: FailingCases | None) -> list[Finding]:
    """The findings an exception carries (an exception group: those of each exception in it)."""
    if isinstance(error, FailureGroup):
        found = []
        for failure in error.exceptions:
            requests, reproducers = cases.request_of(failure) if cases is not None else ((), ())
            reason = _line(failure.message, failure.title, first=False)
            found.append(
                Finding(failure.title, reason, failure.operation or operation, failure.code, requests, reproducers)
            )
        return found
    if isinstance(error, BaseExceptionGroup):
        return [finding for inner in error.exceptions for finding in findings_of(inner, operation, cases)]
    if isinstance(error, ContractViolation):
        return [
            Finding(
                violation.contract,
                _line(violation.reason, violation.contract),
                operation,
                requests=tuple(f"{r.request.method} {r.request.url} -> {r.status}" for r in violation.evidence),
                reproducers=tuple(r.request.curl() for r in violation.evidence),
            )
            for violation in error.violations
        ]
    return [Finding(type(error).__name__, _line(str(error), type(error).__name__), operation)]


def _test_of(item: pytest.Item) -> str:
    """The test's own node id: Schemathesis renames the item while one of its subtests runs."""
    return f"{item.parent.nodeid}::{item.name}" if item.parent is not None else item.nodeid


def _operation_of(item: pytest.Item, run: Any) -> str | None:
    """`METHOD /path` of a test parametrized by operation (contracts/conftest.py)."""
    callspec = getattr(item, "callspec", None)
    operation_id = callspec.params.get("operation_id") if callspec is not None else None
    if operation_id is None:
        return None
    operation = run.contract.operations.get(operation_id) if run is not None else None
    return str(operation.label if operation is not None else operation_id)


class Recorder:
    """Attaches each report's test, operation and, on a failure, its findings (redacted)."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact

    @pytest.hookimpl(wrapper=True, tryfirst=True)  # outside contracts.outcome's: a cut-short test is a skip
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
        report = yield
        run = item.config.stash.get(RUN_KEY, None)
        cases: FailingCases | None = getattr(run, "failing", None)
        record: dict[str, Any] = {"test": _test_of(item), "operation": _operation_of(item, run)}
        if report.failed:  # without an exception of its own (its subtests failed): no findings of its own
            error = call.excinfo.value if call.excinfo is not None else None
            found = findings_of(error, record["operation"], cases) if error is not None else []
            record["findings"] = [asdict(finding) for finding in found]
        setattr(report, KEY, scrubbed(record, self._redact))
        if call.when == "call" and cases is not None:
            cases.clear()
        return report
