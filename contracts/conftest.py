"""Fixtures of the conformance suite: the run is built here, per pytest session, from the target.

The target comes from a `TargetPlugin` (the `leadvibe-contracts` runner, the gate's own tests) or,
without one, from the environment (`make test`: the in-process mock).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from schemathesis import BaseSchema

from contracts.ownership import OwnedLeads, clean_ledger
from contracts.plugin import RUN_KEY, TARGET_KEY, shielded_from_signals
from contracts.probes import listed_lead_ids
from contracts.run import Run, build_run
from contracts.target import target_from_env
from contracts.test_ownership import FIRST


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    """The run; at the end, every lead it created is deleted, and one that cannot be removed fails it."""
    plugin = request.config.stash.get(TARGET_KEY, None)
    if plugin is not None:
        built = build_run(plugin.target, plugin.app, plugin.reset, plugin.throttle)
    else:
        built = build_run(target_from_env())
    request.config.stash[RUN_KEY] = built
    if built.ledger is not None and built.target.allow_writes:
        removed, left = clean_ledger(built.client, built.token, built.ledger)
        built.notes += [f"removed a lead an earlier run left behind: {lead}" for lead in removed]
        built.notes += [f"left alone: {lead}" for lead in left]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    for note in built.notes:
        if reporter is not None:
            reporter.write_line(f"leadvibe-contracts: {note}")
    yield built
    if built.drift is not None:
        report_dir = plugin.report_dir if plugin is not None else Path("reports")
        for line in built.drift.write(report_dir / "drift.json"):
            if reporter is not None:
                reporter.write_line(f"leadvibe-contracts: {line}")
    if built.owned is not None:
        if built.throttle is not None:
            built.throttle.start_cleanup()  # the reserve of the budget is clean-up's
        with shielded_from_signals():
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
    if run.owned.blocked is not None:
        pytest.skip(f"blocked: {run.owned.blocked}")
    return run.owned


@pytest.fixture
def other_tokens(run: Run) -> tuple[str, ...]:
    if not run.other_tokens:
        pytest.skip("set LEADVIBE_OTHER_OU_TOKEN for the isolation contracts")
    return run.other_tokens


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ownership test first: a broken ingest is reported once, before anything waits for a lead."""
    items.sort(key=lambda item: item.name != FIRST)
