"""Schemathesis' state machine over the spec's links: list, read, update, delete, deletion status, read again."""

from __future__ import annotations

from hypothesis import settings

from contracts.run import Run


def test_lead_workflow(run: Run) -> None:
    scenarios = run.target.max_examples * 2
    run.state_machine().run(settings=settings(run.settings(scenarios), max_examples=scenarios, stateful_step_count=8))
