"""Schemathesis on every operation: all built-in checks and ours, with positive and negative data."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from contracts.run import Run

schema = schemathesis.pytest.from_fixture("st_schema")


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_operation_keeps_the_contract(case: Any, run: Run) -> None:
    run.reset()
    run.call_and_validate(case)
