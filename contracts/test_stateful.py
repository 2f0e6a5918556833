"""Schemathesis' state machine over the spec's links: list, read, update, delete, deletion status, read again."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from contracts.run import current_run

RUN = current_run()


class LeadWorkflow(RUN.schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        RUN.reset()  # each scenario starts from the seed (in-process mock), or Hypothesis sees flaky data


TestLeadWorkflow = LeadWorkflow.TestCase
TestLeadWorkflow.settings = settings(
    max_examples=RUN.target.max_examples * 2,
    stateful_step_count=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
