"""Fixtures of the conformance suite: the run is built here, per pytest session, from the target.

The target comes from a `TargetPlugin` (the `leadvibe-contracts` runner, the gate's own tests) or,
without one, from the environment (`make test`: the in-process mock).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from schemathesis import BaseSchema

from contracts.plugin import TARGET_KEY
from contracts.probes import listed_lead_ids
from contracts.run import Run, build_run
from contracts.safety import OwnedLeads
from contracts.target import target_from_env

DRIFT_REPORT = Path("reports") / "drift.json"


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    """The run; at the end, every lead it created is deleted, and one that cannot be removed fails it."""
    plugin = request.config.stash.get(TARGET_KEY, None)
    built = build_run(plugin.target, plugin.app, plugin.reset) if plugin else build_run(target_from_env())
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    for note in built.notes:
        if reporter is not None:
            reporter.write_line(f"leadvibe-contracts: {note}")
    yield built
    if built.drift is not None:
        for line in built.drift.write(DRIFT_REPORT):
            if reporter is not None:
                reporter.write_line(f"leadvibe-contracts: {line}")
    if built.owned is not None:
        leftovers = built.owned.cleanup()
        assert not leftovers, "leads created by this run could not be deleted:\n" + "\n".join(leftovers)


@pytest.fixture(scope="session")
def st_schema(run: Run) -> BaseSchema:
    """The schema Schemathesis generates from (`schemathesis.pytest.from_fixture`)."""
    return run.schema


@pytest.fixture(scope="module")
def lead_ids(run: Run) -> list[str]:
    """Leads the token can read: the first pages of GET /leads."""
    run.reset()
    ids = listed_lead_ids(run, run.token)
    if not ids:
        pytest.skip("the token sees no leads: nothing to read")
    return ids


@pytest.fixture
def owned(run: Run) -> OwnedLeads:
    """The run's own leads: only with writes allowed."""
    if run.owned is None:
        pytest.skip("read-only run: set LEADVIBE_ALLOW_WRITES=1 for write contracts")
    return run.owned


@pytest.fixture
def other_tokens(run: Run) -> tuple[str, ...]:
    if not run.other_tokens:
        pytest.skip("set LEADVIBE_OTHER_OU_TOKEN for the isolation contracts")
    return run.other_tokens
