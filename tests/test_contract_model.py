"""The contract package: rules between parameters, time windows and places, read from the spec once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadvibe_contract.contract import Contract, SpecError, compile_spec, default_spec_path
from leadvibe_contract.rules import AMBIGUOUS, Broken, Ordered, first_broken
from leadvibe_contract.windows import window

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    return loaded


def test_the_rules_between_parameters_come_from_the_spec(spec: Contract) -> None:
    assert spec.operations["listLeads"].rules == ()  # min_score above max_score: an empty page (issue 18)
    # Days beside dates: the dates win; a window ending before it starts is empty (issue 18): no rule.
    assert spec.operations["getScoreHistory"].rules == ()
    assert not spec.operations["getLead"].rules


@pytest.mark.parametrize(
    ("given", "broken"),
    [
        ({"min_score": 5, "max_score": 4}, ("min_score", "max_score")),
        ({"min_score": 4, "max_score": 4}, None),
        ({"min_score": 4}, None),
    ],
)
def test_ordered_numbers(spec: Contract, given: dict[str, Any], broken: tuple[str, ...] | None) -> None:
    verdict = first_broken((Ordered("min_score", "max_score"),), given, NOW)
    assert (verdict.names if isinstance(verdict, Broken) else None) == broken


def test_history_rules_with_the_clock(spec: Contract) -> None:
    rules = (Ordered("start_date", "end_date", high_defaults_to_now=True),)
    hour = timedelta(hours=1)
    assert first_broken(rules, {"days": 3, "end_date": NOW}, NOW) is None  # the dates take precedence
    assert isinstance(first_broken(rules, {"start_date": NOW, "end_date": NOW - hour}, NOW), Broken)
    assert first_broken(rules, {"start_date": NOW - hour, "end_date": NOW}, NOW) is None
    assert isinstance(first_broken(rules, {"start_date": NOW + hour}, NOW), Broken)  # ends now: start is future
    assert first_broken(rules, {"start_date": NOW - hour}, NOW) is None
    skew = timedelta(minutes=5)
    assert first_broken(rules, {"start_date": NOW + timedelta(minutes=2)}, NOW, skew) is AMBIGUOUS
    assert isinstance(first_broken(rules, {"start_date": NOW + timedelta(minutes=6)}, NOW, skew), Broken)


@pytest.mark.parametrize(
    "rule",
    [
        {"ordered": ["min_score"]},
        {"ordered": ["min_score", "nope"]},
        {"exclusive": [["page"]]},
        {"before": ["page", "limit"]},
        {"ordered": ["min_score", "max_score"], "high-default": "tomorrow"},
    ],
)
def test_a_malformed_rule_stops_the_spec_from_loading(rule: dict[str, Any]) -> None:
    document = _document()
    document["paths"]["/leads"]["get"]["x-parameter-rules"] = [rule]
    with pytest.raises(SpecError, match="x-parameter-rules"):
        compile_spec(document)


def test_windows_read_the_enum_values() -> None:
    assert window("7d", NOW).start == NOW - timedelta(days=7)
    assert window("last_90d", NOW).start == NOW - timedelta(days=90)
    today = window("today", NOW)
    assert (today.start, today.end) == (datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC))
    yesterday = window("yesterday", NOW)
    assert NOW - timedelta(days=1) in yesterday
    assert NOW not in yesterday
    assert NOW in window("7d", NOW)


def test_a_new_window_value_needs_no_code_and_an_unknown_form_is_refused_at_load(tmp_path: Path) -> None:
    document = _document()
    document["components"]["parameters"]["CreatedRange"]["schema"]["enum"].append("last_180d")
    grown = compile_spec(document)
    assert "last_180d" in grown.operations["listLeads"].parameter("range").enum
    assert window("last_180d", NOW).start == NOW - timedelta(days=180)
    document["components"]["parameters"]["CreatedRange"]["schema"]["enum"].append("this_quarter")
    with pytest.raises(SpecError, match="this_quarter"):
        compile_spec(document)


def test_places_of_lead_ids_and_aliases_are_derived_from_the_spec(spec: Contract) -> None:
    ingest = {(place.identifies, place.pointer) for place in spec.operations["ingestEvent"].places}
    assert ingest == {
        ("lead", ("lead_id",)),
        ("lead-alias", ("aliases", "*", "raw_value")),
        ("lead-alias-kind", ("aliases", "*", "alias_kind")),
        # The deprecated top-level form (still accepted): its value $refs AliasValue, so it is a place too.
        ("lead-alias", ("alias",)),
        ("lead-alias-kind", ("alias_kind",)),
    }
    by_alias = {(place.identifies, place.name) for place in spec.operations["getLeadByAlias"].places}
    assert by_alias == {("lead-alias", "value"), ("lead-alias-kind", "kind")}
    assert all(op.names_a_lead == ("{leadID}" in op.path) for op in spec.operations.values())
    refused = {op.operation_id for op in spec.operations.values() if op.write and not op.write.allowed}
    assert not refused  # every write of the shipped spec can be confined to a run's own leads


def test_limits_follow_an_edit_of_the_spec() -> None:
    """The limits are read, not typed: change them in a copy of the spec and the compiled contract follows."""
    document = _document()
    shipped = compile_spec(document)
    assert shipped.operations["ingestEvent"].body is not None
    assert shipped.operations["ingestEvent"].body.size_limits == {"metadata": 102400}
    document["components"]["schemas"]["EventMetadata"]["x-max-serialized-bytes"] = 7
    document["components"]["parameters"]["Days"]["schema"]["maximum"] = 30
    edited = compile_spec(document)
    assert edited.operations["ingestEvent"].body is not None
    assert edited.operations["ingestEvent"].body.size_limits == {"metadata": 7}
    assert edited.component_parameter("Days")["schema"]["maximum"] == 30
