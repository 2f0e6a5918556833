"""The run's verdict, told apart by cause: a broken contract is not an unavailable target.

Every failing test is classified by the exception that ended it. `TargetUnavailable` (no definitive
answer), `BudgetExhausted`, and the safety refusals are causes of their own; anything else that fails
(a violated contract, a Schemathesis check) means the contract is broken.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from contracts.client import ReadOnlyViolation
from contracts.safety import WriteRefused
from contracts.throttle import BudgetExhausted
from contracts.transient import TargetUnavailable

EXIT_OK, EXIT_BROKEN, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INCOMPLETE = 0, 1, 2, 3, 4
NOT_A_VERDICT = frozenset({"interrupted", "target unavailable"})  # a test cut short, not a finding
CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (KeyboardInterrupt, "interrupted"),
    (TargetUnavailable, "target unavailable"),
    (BudgetExhausted, "budget exhausted"),
    (WriteRefused, "refused by safety"),
    (ReadOnlyViolation, "refused by safety"),
)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _cause_of_leaf(error: BaseException) -> str:
    """The cause of one error, or of the error it was raised from (Hypothesis wraps an interruption that
    struck inside its own code into an error of its own, `raise ... from` the KeyboardInterrupt)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = next((name for kind, name in CAUSES if isinstance(current, kind)), None)
        if name is not None:
            return name
        current = current.__cause__
    return "contract broken"


def cause_of(error: BaseException) -> str:
    """'contract broken' unless every leaf of the error has a cause of its own (the first one wins)."""
    found = [_cause_of_leaf(leaf) for leaf in _leaves(error)]
    return "contract broken" if "contract broken" in found else found[0]


def _reason(error: BaseException, cause: str) -> str:
    """One line for a test cut short: what was lost, or that it was interrupted."""
    if cause == "interrupted":
        return "interrupted (Ctrl-C or SIGTERM) before it ended"
    for leaf in _leaves(error):
        current: BaseException | None = leaf
        while current is not None:
            if isinstance(current, TargetUnavailable):
                return f"target unavailable: {current}"[:500]
            current = current.__cause__
    return cause


class Outcome:
    """A pytest plugin that counts failures by cause and decides the run's verdict and exit code."""

    def __init__(self) -> None:
        self.causes: Counter[str] = Counter()
        self.interrupted = False
        self.exitstatus = 0

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self.exitstatus = int(exitstatus)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
        """Name the cause where the exception is known: on the report, which a worker sends to the runner.

        A test cut short by an interruption or by a lost target did not find a broken contract: it is
        reported as skipped, with the reason, in JUnit and the summary alike (the verdict still counts it),
        and a lost target stops the session.
        """
        report = yield
        if report.failed and call.excinfo is not None:
            cause = report.leadvibe_cause = cause_of(call.excinfo.value)
            if cause in NOT_A_VERDICT:
                report.outcome = "skipped"
                report.longrepr = (str(item.path), item.location[1] or 0, _reason(call.excinfo.value, cause))
            if cause == "target unavailable":
                item.session.shouldstop = "the target was lost: the remaining tests are not run"
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        cause = getattr(report, "leadvibe_cause", None)
        if isinstance(cause, str) and (report.failed or cause in NOT_A_VERDICT):
            self.causes[cause] += 1

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def verdict(self, pytest_code: int) -> tuple[str, int]:
        if self.causes["contract broken"]:
            return "contract broken", EXIT_BROKEN
        if self.causes["refused by safety"]:
            return "refused by safety (see the refusals above)", EXIT_BROKEN
        if self.causes["target unavailable"]:
            return "target unavailable: no definitive answer (not a contract verdict)", EXIT_UNAVAILABLE
        if self.causes["budget exhausted"]:
            return "incomplete: the request budget ran out", EXIT_INCOMPLETE
        if self.interrupted or self.causes["interrupted"] or pytest_code == pytest.ExitCode.INTERRUPTED:
            return "interrupted", EXIT_INCOMPLETE
        if pytest_code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            return "passed", EXIT_OK
        return "contract broken", EXIT_BROKEN if pytest_code == pytest.ExitCode.TESTS_FAILED else int(pytest_code)
