"""Fixtures of the conformance suite: the run is built here, per pytest session, from the target.

The target comes from a `TargetPlugin` (the `leadvibe-contracts` runner, the gate's own tests) or,
without one, from the environment (`make test`: the in-process mock).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from schemathesis import BaseSchema

from contracts.coverage import OFFLINE_REPORTS, CoverageReport
from contracts.fanout import KEY, configure_worker
from contracts.ownership import OwnedLeads
from contracts.plugin import RUN_KEY, TARGET_KEY, shielded_from_signals
from contracts.probes import listed_lead_ids
from contracts.run import Run, build_run
from contracts.target import target_from_env
from leadvibe_contract.contract import load_contract


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    """The run; at the end, every lead it created is deleted, and one that cannot be removed fails it."""
    plugin = request.config.stash.get(TARGET_KEY, None)
    if plugin is not None:
        built = build_run(
            plugin.target, plugin.app, plugin.reset, plugin.throttle, plugin.blockage, plugin.quiet, plugin.lost
        )
    else:
        built = build_run(target_from_env())
    request.config.stash[RUN_KEY] = built
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    for note in built.notes:
        if reporter is not None:
            reporter.write_line(f"leadvibe-contracts: {note}")
    yield built
    if built.owned is not None:
        if built.throttle is not None:
            built.throttle.start_cleanup()  # the reserve of the budget is clean-up's
        with shielded_from_signals():
            leftovers = built.owned.cleanup()
        assert not leftovers, "leads created by this run could not be deleted:\n" + "\n".join(leftovers)


@pytest.fixture
def st_schema(run: Run, operation_id: str) -> BaseSchema:
    """The schema Schemathesis generates from (`schemathesis.pytest.from_fixture`): one operation per test,
    so that a run with several workers (contracts.fanout) shares the operations out."""
    if operation_id in run.skipped:
        pytest.skip(run.skipped[operation_id])
    return run.schema_of(operation_id)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test per operation of the target's contract (known at collection: the target plugin or the env)."""
    if "operation_id" not in metafunc.fixturenames:
        return
    plugin = metafunc.config.stash.get(TARGET_KEY, None)
    spec_path = plugin.target.spec_path if plugin is not None else target_from_env().spec_path
    operations = load_contract(spec_path).operations_where()
    # Named `METHOD /path`, as Schemathesis names an operation; the summary reads the operation_id (findings.py).
    metafunc.parametrize("operation_id", [op.operation_id for op in operations], ids=[op.label for op in operations])


@pytest.fixture
def quiet(run: Run) -> Iterator[None]:
    """For a test that compares several reads: no other worker of the run writes until it ends."""
    with run.quiet.section():
        yield


@pytest.fixture
def lead_ids(run: Run, quiet: None) -> list[str]:
    """Leads the token can read: the first pages of GET /leads (listed inside the test's quiet section,
    so that no other worker deletes one of them before the test reads it)."""
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


def pytest_configure(config: pytest.Config) -> None:
    configure_worker(config)  # a no-op unless this process is a worker of a fanned-out run
    # The API coverage report: the runner registers its own (its report folder, its workers' facts); a worker's
    # coverage goes with its facts; any other session (make test: the offline gate) writes to reports/.
    registered = any(isinstance(plugin, CoverageReport) for plugin in config.pluginmanager.get_plugins())
    if not registered and KEY not in getattr(config, "workerinput", {}):  # not a worker of a fanned-out run
        config.pluginmanager.register(CoverageReport(OFFLINE_REPORTS), "leadvibe-coverage")
