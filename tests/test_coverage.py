"""Issue #22: the API coverage report of a gate run (contracts/coverage.py): what it reached of the contract,
the gaps first, and the offline gate failed when it tested every operation yet never reached one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from contracts.client import TokenNames
from contracts.coverage import Coverage, CoverageReport, merge, report
from contracts.inprocess import WsgiClient, fresh_mock
from leadvibe_contract.contract import Contract, load_contract

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "kbn_pat_demo"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


def _observed(contract: Contract) -> Coverage:
    """A few requests of the semantic contracts' client against the in-process mock, observed."""
    coverage = Coverage(contract)
    client = WsgiClient(fresh_mock().app, TokenNames())
    client.observe = coverage.observe_request
    client.request("GET", "/lead/ld_123", token=TOKEN)
    client.request("GET", "/lead/nope", token=TOKEN)
    client.request("GET", "/leads", token=TOKEN, params={"limit": "0"})  # breaks `minimum: 1`
    client.request("GET", "/leads", token=TOKEN, params={"limit": "5", "min_score": "10"})
    client.request("GET", "/lead/by-alias", token=TOKEN, params={"kind": "email", "value": "x@example.com"})
    return coverage


def test_statuses_fields_parameters_and_rules_reached_are_counted(contract: Contract) -> None:
    document = report(contract, merge([_observed(contract).data()]))
    get_lead = next(entry for entry in document["operations"] if entry["operation"] == "getLead")
    assert get_lead["calls"] == 2
    assert get_lead["statuses_seen"] == [200, 404]
    assert 401 in get_lead["statuses_never_seen"]
    assert "/lead_id" not in get_lead["fields_never_present"]
    assert "/errors/*/name" in get_lead["fields_never_present"]  # a 404 carries no field errors
    listing = next(entry for entry in document["operations"] if entry["operation"] == "listLeads")
    assert listing["parameters"]["query limit"] == {"sent": 2, "invalid": 1, "valid": 1}
    assert "query limit" not in listing["parameter_rules_never_broken"]
    assert "query page" in listing["parameters_never_sent"]
    by_alias = next(entry for entry in document["operations"] if entry["operation"] == "getLeadByAlias")
    assert by_alias["calls"] == 1  # /lead/by-alias is its own operation, not getLead of a lead "by-alias"


def test_an_unreached_operation_is_named_first_and_fails_a_complete_offline_gate(
    contract: Contract, tmp_path: Path
) -> None:
    coverage = _observed(contract)
    run = SimpleNamespace(coverage=coverage, contract=contract, target=SimpleNamespace(live=False))
    from contracts.plugin import RUN_KEY

    config = SimpleNamespace(stash={RUN_KEY: run})
    session: Any = SimpleNamespace(config=config, exitstatus=0)
    plugin = CoverageReport(tmp_path)
    plugin.tested = set(contract.operations)  # as when every conformance test ran in this process (make test)
    plugin.pytest_sessionfinish(session)
    assert session.exitstatus == pytest.ExitCode.TESTS_FAILED
    written = json.loads((tmp_path / "coverage.json").read_text(encoding="utf-8"))
    assert "listTopLeads" in written["unreached"]
    assert "getLead" not in written["unreached"]
    markdown = (tmp_path / "coverage.md").read_text(encoding="utf-8")
    assert markdown.index("GET /top-leads: never reached") < markdown.index("| operation |")
    lines: list[str] = []
    terminal = SimpleNamespace(section=lines.append, write_line=lambda line, **kw: lines.append(line))
    plugin.pytest_terminal_summary(terminal)
    assert any(line.startswith("FAILED: the gate tested every operation") and "listTopLeads" in line for line in lines)
    # A run of a few operations only (pytest -k) is reported, never failed for the others.
    partial: Any = SimpleNamespace(config=config, exitstatus=0)
    plugin.tested = {"getLead"}
    plugin.pytest_sessionfinish(partial)
    assert partial.exitstatus == 0


@pytest.mark.slow  # a process of its own
def test_a_gate_run_against_the_mock_prints_its_table_and_gaps(tmp_path: Path) -> None:
    """The gate itself, on one operation (seconds): its table, its gaps, an operation it never reached."""
    env = {**os.environ, "LEADVIBE_MAX_EXAMPLES": "2"}
    env.pop("LEADVIBE_TARGET", None)
    gate = [str(ROOT / "contracts" / "test_conformance.py"), "-k", "top-leads", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *gate, f"--rootdir={ROOT}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "API coverage" in done.stdout
    assert "| GET /top-leads |" in done.stdout
    assert "GET /lead/{leadID}: never reached" in done.stdout
    written = json.loads((tmp_path / "reports" / "coverage.json").read_text(encoding="utf-8"))
    assert "listTopLeads" not in written["unreached"]
