"""Can the run create a lead and prove it its own? The contract every write depends on, stated on its own.

No test is ordered before the others: the `owned` fixture gives every test its leads, and whichever test
first finds that no lead can be had (ingest broken, or leads the run cannot prove it created) reports it,
once, as the contract it breaks (`contracts.blockage`); every other test that needs a lead is skipped with
that reason instead of waiting for a lead again.
"""

from __future__ import annotations

import pytest

from contracts.run import Run
from contracts.verdict import expect


def test_the_run_can_create_a_lead_and_prove_it_its_own(run: Run) -> None:
    if run.owned is None:
        pytest.skip("read-only run: set LEADVIBE_ALLOW_WRITES=1 for write contracts")
    lead_id = run.owned.create()
    expect(run.owned.owns(lead_id), "ownership", f"{lead_id} was created but is not recorded as owned")
