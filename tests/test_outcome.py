"""A run's verdict names the cause of each failure: an interruption or an unavailable target is not a
broken contract, however deep the library that was running wrapped it."""

from __future__ import annotations

import pytest

from contracts.outcome import cause_of
from contracts.throttle import BudgetExhausted
from contracts.transient import TargetUnavailable


def _raised_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as exc:
            raise RuntimeError("Hypothesis internal error") from exc
    except RuntimeError as wrapped:
        return wrapped


def _raised_while_handling(context: BaseException) -> BaseException:
    try:
        try:
            raise context
        except BaseException:
            raise AssertionError("contract `write_persists` violated") from None
    except AssertionError as error:
        return error


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (KeyboardInterrupt("signal 15"), "interrupted"),
        (_raised_from(KeyboardInterrupt("signal 15")), "interrupted"),  # wrapped by the library it struck
        (_raised_from(BudgetExhausted("spent")), "budget exhausted"),
        (ExceptionGroup("all", [BudgetExhausted("spent"), TargetUnavailable("503")]), "budget exhausted"),
        (ExceptionGroup("all", [AssertionError("broken"), TargetUnavailable("503")]), "contract broken"),
        (_raised_while_handling(TargetUnavailable("503")), "contract broken"),  # only a direct cause counts
        (AssertionError("contract `ou_isolation` violated"), "contract broken"),
    ],
)
def test_each_failure_is_classified_by_its_cause(error: BaseException, cause: str) -> None:
    assert cause_of(error) == cause
