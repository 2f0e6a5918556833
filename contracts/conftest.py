"""Fixtures of the conformance suite; the run itself comes from the environment (contracts.run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contracts.run import Run, current_run


@pytest.fixture(scope="session")
def run() -> Run:
    return current_run()


@pytest.fixture(scope="session", autouse=True)
def clean_up_owned_leads(run: Run) -> Iterator[None]:
    """At the end, delete every lead the run created; a lead that cannot be removed fails the run."""
    yield
    if run.owned is not None:
        leftovers = run.owned.cleanup()
        assert not leftovers, "leads created by this run could not be deleted:\n" + "\n".join(leftovers)


requires_writes = pytest.mark.skipif(
    not current_run().target.allow_writes, reason="read-only run: set LEADVIBE_ALLOW_WRITES=1 for write contracts"
)
requires_other_token = pytest.mark.skipif(
    not current_run().other_tokens, reason="set LEADVIBE_OTHER_OU_TOKEN for the isolation contracts"
)
