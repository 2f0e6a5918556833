"""The first test of a run with writes: can the run create a lead and prove it its own?

Everything that writes depends on it. It runs first (contracts/conftest.py orders it), so that when
ingest is broken, or the API hands out leads the run cannot prove it created, that is reported here,
once, as the contract it breaks; every test that needs a lead is then skipped with the reason instead
of waiting for the same lead again.
"""

from __future__ import annotations

import pytest

from contracts.run import Run
from contracts.verdict import expect

FIRST = "test_the_run_can_create_a_lead_and_prove_it_its_own"


def test_the_run_can_create_a_lead_and_prove_it_its_own(run: Run) -> None:
    if run.owned is None:
        pytest.skip("read-only run: set LEADVIBE_ALLOW_WRITES=1 for write contracts")
    lead_id = run.owned.create()
    expect(run.owned.owns(lead_id), "ownership", f"{lead_id} was created but is not recorded as owned")
