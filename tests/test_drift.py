"""Drift collection: a deployment's undeclared fields, headers and statuses are reported once each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.drift import DriftCollector, merge_drift
from leadvibe_contract.contract import Contract
from leadvibe_contract.drift import undeclared_fields


def _lead(spec: Contract) -> dict[str, object]:
    return dict(spec.document["components"]["examples"]["LeadJaneSmith"]["value"])


def test_undeclared_fields_are_found_at_any_depth(spec: Contract) -> None:
    operation = spec.operations["getLead"]
    assert undeclared_fields(operation, 200, _lead(spec)) == []
    assert undeclared_fields(operation, 200, {**_lead(spec), "level": "hot"}) == [("/level", "hot")]
    page = spec.document["paths"]["/leads"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    grown = {**page, "cursor": "abc", "leads": [{**page["leads"][0], "account": {"id": 1}}]}
    found = dict(undeclared_fields(spec.operations["listLeads"], 200, grown))
    assert found == {"/cursor": "abc", "/leads/0/account": {"id": 1}}


def test_each_drift_is_listed_once_with_a_sample_and_written_as_json(spec: Contract, tmp_path: Path) -> None:
    drift = DriftCollector(spec, strict=False)
    operation = spec.operations["getLead"]
    for _ in range(3):
        drift.observe(
            operation, 200, {"X-Tenant": "t1", "Content-Type": "application/json"}, {**_lead(spec), "level": 1}
        )
    drift.observe(operation, 418, {}, {"teapot": True})
    lines = drift.write(tmp_path / "drift.json")
    report = json.loads((tmp_path / "drift.json").read_text())
    kinds = sorted((item["kind"], item["what"], item["seen"]) for item in report["drift"])
    assert kinds == [("field", "200 /level", 3), ("header", "200 x-tenant", 3), ("status", "418", 1)]
    assert report["count"] == 3
    assert len(lines) == 4


@pytest.mark.parametrize("strict", [False, True])
def test_drift_fails_only_when_strict(spec: Contract, strict: bool) -> None:
    drift = DriftCollector(spec, strict=strict)
    new = drift.observe(spec.operations["getLead"], 200, {}, {**_lead(spec), "level": 1})
    assert new == ["undeclared field /level in a 200"]
    missing = {key: value for key, value in _lead(spec).items() if key != "score"}
    assert drift.observe(spec.operations["getLead"], 200, {}, missing) == []  # not drift: the schema check fails it


def test_the_workers_drift_reports_merge_into_one(spec: Contract) -> None:
    """Each worker of a run reports its own drift; the run's report lists each thing once, seen in all."""
    workers = [DriftCollector(spec, strict=False), DriftCollector(spec, strict=False)]
    operation = spec.operations["getLead"]
    workers[0].observe(operation, 200, {"X-Tenant": "t1"}, {**_lead(spec), "level": 1})
    workers[1].observe(operation, 200, {"X-Tenant": "t2"}, _lead(spec))
    workers[1].observe(operation, 418, {}, {"teapot": True})
    merged = merge_drift([worker.report() for worker in workers])
    seen = [(item["kind"], item["what"], item["seen"]) for item in merged["drift"]]
    assert sorted(seen) == [("field", "200 /level", 1), ("header", "200 x-tenant", 2), ("status", "418", 1)]
    assert merged["count"] == 3
    assert merged["strict"] is False
