"""The contract package: rules between parameters, time windows and places, read from the spec once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadvibe_contract.contract import Contract, SpecError, compile_spec, default_spec_path
from leadvibe_contract.windows import window

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    return loaded


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
