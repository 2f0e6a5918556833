"""Schemathesis' state machine over the spec's links: list, read, update, delete, deletion status, read again."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from contracts.run import Run


def test_lead_workflow(run: Run) -> None:
    run.state_machine().run(
        settings=settings(
            max_examples=run.target.max_examples * 2,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
