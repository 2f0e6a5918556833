"""Schemathesis on every operation: all built-in checks and ours, with positive and negative data."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

from contracts.run import current_run

RUN = current_run()


@RUN.schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_operation_keeps_the_contract(case: Any) -> None:
    RUN.reset()
    case.call_and_validate()
