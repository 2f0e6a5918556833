"""Schemathesis on every operation: all built-in checks and ours, with positive and negative data.

One test per operation (`st_schema` is the schema of the operation the test is parametrized with, in
contracts/conftest.py), so that a live run with several workers (contracts.fanout) shares them out."""

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
