"""The breaking-change gate (`make check-compat`, spec_compat): a set of edits of openapi.yaml, each with the
verdict it must get; the gap rules and the acknowledgment on their own; the command end to end in a git
repository of its own.

The edits run through the real differ (api-smart-diff, installed by spec_compat on first use into its
cache folder); when node or npm cannot install it, those tests say so and skip.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from spec_compat import rules
from spec_compat.acknowledge import Allowance, AllowListError, acknowledge, new_allowances, parse_allowances
from spec_compat.change import ANNOTATION, BREAKING, NON_BREAKING, Change, json_path
from spec_compat.classify import classify
from spec_compat.differ import DifferUnavailable, ToolDiff, compare_many

REPO = Path(__file__).resolve().parent.parent
SPEC: dict[str, Any] = yaml.safe_load((REPO / "openapi.yaml").read_text(encoding="utf-8"))

Edit = Callable[[dict[str, Any]], None]


def _schemas(d: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = d["components"]["schemas"]
    return schemas


def _parameters(d: dict[str, Any]) -> dict[str, Any]:
    parameters: dict[str, Any] = d["components"]["parameters"]
    return parameters


def _remove_updated_at(d: dict[str, Any]) -> None:
    del _schemas(d)["Lead"]["properties"]["updated_at"]
    _schemas(d)["Lead"]["required"].remove("updated_at")


def _new_operation(d: dict[str, Any]) -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    d["paths"]["/lead/{leadID}/tags"] = {
        "get": {
            "operationId": "listLeadTags",
            "responses": {"200": {"description": "The tags.", "content": {"application/json": {"schema": schema}}}},
        }
    }


# name -> (edit, the worst kind it must get, a fragment of the JSON path of a change of that kind)
EDITS: dict[str, tuple[Edit, str, str]] = {
    # breaking: what existing clients rely on changes
    "response field removed": (_remove_updated_at, BREAKING, ".properties.updated_at"),
    "response field made optional": (
        lambda d: _schemas(d)["Lead"]["required"].remove("created_at"),
        BREAKING,
        ".required",
    ),
    "response type changed (integer to string)": (
        lambda d: _schemas(d)["Score"].update(type="string"),
        BREAKING,
        ".properties.score.type",
    ),
    "response type widened (null added)": (
        lambda d: _schemas(d)["Score"].update(type=["integer", "null"]),
        BREAKING,
        ".properties.score.type",
    ),
    "request type narrowed (null refused)": (
        lambda d: _schemas(d)["OwnerId"].update(type="string"),
        BREAKING,
        ".requestBody",
    ),
    "request limit narrowed": (
        lambda d: _parameters(d)["Limit"]["schema"].update(maximum=50),
        BREAKING,
        ".schema.maximum",
    ),
    "request pattern tightened": (
        lambda d: _schemas(d)["EventType"].update(pattern="^[a-z_]+$"),
        BREAKING,
        ".requestBody",
    ),
    "required request field added": (
        lambda d: _schemas(d)["LeadUpdate"].update(required=["owner_name"]),
        BREAKING,
        ".requestBody",
    ),
    "required parameter added": (
        lambda d: d["paths"]["/leads"]["get"]["parameters"].append(
            {"name": "org", "in": "query", "required": True, "schema": {"type": "string"}}
        ),
        BREAKING,
        "['/leads'].get.parameters",
    ),
    "parameter made required": (lambda d: _parameters(d)["Page"].update(required=True), BREAKING, ".required"),
    "response enum value added": (
        lambda d: _schemas(d)["DeletionStatus"]["properties"]["status"]["enum"].append("cancelled"),
        BREAKING,
        ".properties.status.enum",
    ),
    "request enum value removed": (
        lambda d: _parameters(d)["LastActive"]["schema"]["enum"].remove("30d"),
        BREAKING,
        ".schema.enum",
    ),
    "error status removed": (
        lambda d: d["paths"]["/lead/{leadID}"]["get"]["responses"].pop("404"),
        BREAKING,
        ".get.responses['404']",
    ),
    "success status removed": (
        lambda d: d["paths"]["/lead/{leadID}"]["delete"]["responses"].pop("200"),
        BREAKING,
        ".delete.responses['200']",
    ),
    "operation removed": (lambda d: d["paths"].pop("/top-leads"), BREAKING, "$.paths['/top-leads'].get"),
    "path renamed": (
        lambda d: d["paths"].update({"/score/gains": d["paths"].pop("/score-gains")}),
        BREAKING,
        "$.paths['/score-gains'].get",
    ),
    "operation security tightened (Basic dropped)": (
        lambda d: d["paths"]["/ingest"]["post"].update(security=[{"bearerAuth": []}]),
        BREAKING,
        "$.paths['/ingest'].post.security",
    ),
    "document security tightened (both schemes at once)": (
        lambda d: d.update(security=[{"bearerAuth": [], "basicAuth": []}]),
        BREAKING,
        "$.paths['/leads'].get.security",
    ),
    "security scheme changed": (
        lambda d: d["components"]["securitySchemes"].update(
            bearerAuth={"type": "apiKey", "in": "header", "name": "X-Key"}
        ),
        BREAKING,
        "$.components.securitySchemes.bearerAuth",
    ),
    "unknown vendor extension changed (fails closed)": (
        lambda d: _schemas(d)["EventMetadata"].update({"x-max-serialized-bytes": 1024}),
        BREAKING,
        "x-max-serialized-bytes",
    ),
    # breaking too, by issue #12: what every deployment must send or accept changes
    "request enum value added": (
        lambda d: _parameters(d)["LastActive"]["schema"]["enum"].append("90d"),
        BREAKING,
        ".schema.enum",
    ),
    "response enum value removed": (
        lambda d: _schemas(d)["DeletionStatus"]["properties"]["status"]["enum"].remove("failed"),
        BREAKING,
        ".properties.status.enum",
    ),
    # non-breaking: additive
    "new optional response field": (
        lambda d: _schemas(d)["Lead"]["properties"].update(segment={"type": "string"}),
        NON_BREAKING,
        ".properties.segment",
    ),
    "new operation": (_new_operation, NON_BREAKING, "$.paths['/lead/{leadID}/tags'].get"),
    "new optional parameter": (
        lambda d: d["paths"]["/leads"]["get"]["parameters"].append(
            {"name": "owner", "in": "query", "schema": {"type": "string"}}
        ),
        NON_BREAKING,
        "['/leads'].get.parameters",
    ),
    "security loosened (an alternative added)": (
        lambda d: d["paths"]["/leads"]["get"].update(security=[{"bearerAuth": []}, {"basicAuth": []}, {}]),
        NON_BREAKING,
        "$.paths['/leads'].get.security",
    ),
    "operation deprecated": (
        lambda d: d["paths"]["/lead/{leadID}"]["get"].update(deprecated=True),
        NON_BREAKING,
        ".get.deprecated",
    ),
    # annotation-only
    "description changed": (
        lambda d: d["paths"]["/lead/{leadID}"]["get"].update(description="Returns a lead."),
        ANNOTATION,
        ".get.description",
    ),
    "decision added": (
        lambda d: d["paths"]["/lead/{leadID}"]["put"]["x-decisions"].append("Another decision."),
        ANNOTATION,
        "x-decisions",
    ),
    "example changed": (lambda d: _parameters(d)["Page"].update(example=2), ANNOTATION, ".example"),
    "minor version bump": (lambda d: d["info"].update(version="1.1.0"), ANNOTATION, "$.info.version"),
}


def _edited(edit: Edit) -> dict[str, Any]:
    document = copy.deepcopy(SPEC)
    edit(document)
    return document


@pytest.fixture(scope="module")
def verdicts() -> dict[str, list[Change]]:
    """Every edit through the differ at once (one node process), classified."""
    afters = {name: _edited(edit) for name, (edit, _, _) in EDITS.items()}
    try:
        diffs = compare_many([(SPEC, SPEC), *((SPEC, after) for after in afters.values())])
    except DifferUnavailable as exc:
        pytest.skip(f"the differ cannot be installed or run here: {exc}")
    found = {name: classify(SPEC, after, d) for (name, after), d in zip(afters.items(), diffs[1:], strict=True)}
    found["(unchanged)"] = classify(SPEC, SPEC, diffs[0])
    return found


@pytest.mark.slow  # the differ runs in node
def test_an_unchanged_spec_has_no_changes(verdicts: dict[str, list[Change]]) -> None:
    assert verdicts["(unchanged)"] == []


@pytest.mark.slow  # the differ runs in node
@pytest.mark.parametrize("name", list(EDITS))
def test_edit_gets_its_verdict(verdicts: dict[str, list[Change]], name: str) -> None:
    _, expected, fragment = EDITS[name]
    changes = verdicts[name]
    order = [BREAKING, NON_BREAKING, ANNOTATION]
    worst = min((order.index(c.kind) for c in changes), default=None)
    shown = "\n".join(f"{c.kind} {c.where}: {c.reason} [{c.source}]" for c in changes)
    assert worst is not None, f"{name}: no change found"
    assert order[worst] == expected, f"{name}: expected {expected}, got\n{shown}"
    assert any(c.kind == expected and fragment in c.where for c in changes), (
        f"{name}: no {expected} at {fragment}\n{shown}"
    )
    assert all(c.reason.strip() and "\n" not in c.reason for c in changes)


@pytest.mark.slow  # the differ runs in node
def test_a_renamed_path_names_where_the_operation_went(verdicts: dict[str, list[Change]]) -> None:
    removed = [c for c in verdicts["path renamed"] if c.kind == BREAKING]
    assert any("GET /score/gains" in c.reason for c in removed), removed


# The gap rules on their own (no node needed).


def _diff(path: tuple[str | int, ...], action: str, before: Any, after: Any, kind: str = "non-breaking") -> ToolDiff:
    return ToolDiff(action=action, path=path, type=kind, description="", before=before, after=after)


RESPONSE_TYPE = ("paths", "/x", "get", "responses", "200", "content", "application/json", "schema", "type")
REQUEST_TYPE = ("paths", "/x", "post", "requestBody", "content", "application/json", "schema", "type")


@pytest.mark.parametrize(
    ("path", "before", "after", "kind"),
    [
        (RESPONSE_TYPE, "integer", "string", BREAKING),
        (RESPONSE_TYPE, "integer", "number", BREAKING),  # a reader of integers gets 1.5
        (RESPONSE_TYPE, "number", "integer", NON_BREAKING),
        (RESPONSE_TYPE, ["string", "null"], "string", NON_BREAKING),
        (REQUEST_TYPE, ["string", "null"], "string", BREAKING),
        (REQUEST_TYPE, "integer", "number", NON_BREAKING),
        (REQUEST_TYPE, "integer", "string", BREAKING),
    ],
)
def test_type_rule(path: tuple[str, ...], before: Any, after: Any, kind: str) -> None:
    change = rules.type_change(_diff(path, "replace", before, after))
    assert change is not None
    assert change.kind == kind


def test_type_rule_leaves_a_property_named_type_alone() -> None:
    path = (*RESPONSE_TYPE[:-1], "properties", "type")
    assert rules.type_change(_diff(path, "remove", {"type": "string"}, None)) is None


def test_type_rule_on_one_item_of_a_type_list() -> None:
    added = rules.type_change(_diff((*RESPONSE_TYPE, 1), "add", None, "null"))
    removed = rules.type_change(_diff((*REQUEST_TYPE, 1), "remove", "null", None))
    assert added is not None
    assert removed is not None
    assert (added.kind, removed.kind) == (BREAKING, BREAKING)


def _doc(default: Any, **operations: Any) -> dict[str, Any]:
    paths = {
        f"/{name}": {"get": {"responses": {}, **({"security": s} if s != "-" else {})}}
        for name, s in operations.items()
    }
    return {"security": default, "paths": paths}


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        ([{"bearer": []}], [{"bearer": []}, {"basic": []}], NON_BREAKING),
        ([{"bearer": []}, {"basic": []}], [{"bearer": []}], BREAKING),
        ([{"bearer": []}], [{"bearer": [], "basic": []}], BREAKING),
        ([{"bearer": [], "basic": []}], [{"bearer": []}], NON_BREAKING),
        ([], [{"bearer": []}], BREAKING),  # an open operation now wants credentials
        ([{"bearer": []}], [], NON_BREAKING),
        ([{"bearer": []}], [{}, {"bearer": []}], NON_BREAKING),  # optional auth
    ],
)
def test_security_rule(before: Any, after: Any, kind: str) -> None:
    changes = rules.security_changes(_doc(None, a=before), _doc(None, a=after))
    assert [c.kind for c in changes] == [kind]
    assert changes[0].where == "$.paths['/a'].get.security"


def test_security_rule_follows_the_document_default_to_each_operation() -> None:
    before = _doc([{"bearer": []}], a="-", b=[{"basic": []}])
    after = _doc([{"bearer": [], "basic": []}], a="-", b=[{"basic": []}])
    changes = rules.security_changes(before, after)
    assert [(c.where, c.kind) for c in changes] == [("$.paths['/a'].get.security", BREAKING)]


def test_security_scheme_rule() -> None:
    scheme = ("components", "securitySchemes", "bearerAuth")
    assert rules.security_scheme_change(_diff((*scheme, "description"), "replace", "a", "b")).kind == ANNOTATION
    assert rules.security_scheme_change(_diff((*scheme, "scheme"), "replace", "bearer", "basic")).kind == BREAKING
    assert rules.security_scheme_change(_diff(scheme, "remove", {}, None)).kind == BREAKING
    assert rules.security_scheme_change(_diff(scheme, "add", None, {})).kind == NON_BREAKING


def test_components_are_judged_where_used_and_unclassified_fails_closed() -> None:
    assert rules.judged_elsewhere(("components", "schemas", "Lead", "required", 6))
    assert not rules.judged_elsewhere(("components", "securitySchemes", "basicAuth"))
    assert rules.judged_elsewhere(("security", 0, "basicAuth"))
    assert not rules.judged_elsewhere(("paths", "/x", "get", "responses"))
    assert rules.unclassified(_diff(("paths", "/x", "get", "x-new"), "add", None, 1, "unclassified")).kind == BREAKING
    assert rules.unclassified(_diff(("paths", "/x", "get", "examples", "a"), "add", None, 1)).kind == ANNOTATION
    # classify applies them: a component's own diff is dropped, an unclassified one fails closed
    diffs = [
        _diff(("components", "schemas", "Lead", "type"), "replace", "object", "array", "breaking"),
        _diff(("paths", "/x", "get", "x-rules"), "add", None, 1, "unclassified"),
    ]
    assert [(c.where, c.kind) for c in classify({}, {}, diffs)] == [("$.paths['/x'].get['x-rules']", BREAKING)]


def test_json_path() -> None:
    path = ("paths", "/lead/{leadID}", "get", "responses", "200", "content", "application/json", "x-a", 0)
    assert json_path(path) == "$.paths['/lead/{leadID}'].get.responses['200'].content['application/json']['x-a'][0]"


# Acknowledgment.

BREAK = Change(BREAKING, ("paths", "/top-leads", "get"), "operation removed")
HARMLESS = Change(NON_BREAKING, ("paths", "/new", "get"), "operation added")
V1 = {"info": {"version": "1.4.2"}}


def test_a_major_bump_acknowledges_every_breaking_change() -> None:
    assert not acknowledge([BREAK, HARMLESS], V1, {"info": {"version": "1.5.0"}}, []).passed
    verdict = acknowledge([BREAK, HARMLESS], V1, {"info": {"version": "2.0.0"}}, [])
    assert verdict.passed
    assert "1.4.2 → 2.0.0" in verdict.acknowledged[BREAK]


def test_an_allow_list_entry_acknowledges_what_it_names_only() -> None:
    other = Change(BREAKING, ("paths", "/score-gains", "get"), "operation removed")
    entry = Allowance("$.paths['/top-leads'].*", "retired")
    verdict = acknowledge([BREAK, other], V1, V1, [entry])
    assert verdict.unacknowledged == [other]
    assert verdict.acknowledged[BREAK].endswith("retired")
    assert Allowance("$.paths['/top-leads'].get", "x").matches(BREAK.where)
    assert not Allowance("$.paths['/top-leads'].ge", "x").matches(BREAK.where)
    unused = Allowance("$.paths['/nothing']*", "stale")
    assert acknowledge([BREAK], V1, V1, [entry, unused]).unused == [unused]


def test_only_entries_new_against_the_base_count() -> None:
    text = (
        "allow:\n  - {change: \"$.paths['/a'].get\", reason: old}\n  - {change: \"$.paths['/b'].get\", reason: new}\n"
    )
    base = parse_allowances("allow:\n  - {change: \"$.paths['/a'].get\", reason: old}\n")
    assert [a.change for a in new_allowances(parse_allowances(text), base)] == ["$.paths['/b'].get"]


@pytest.mark.parametrize(
    "text",
    ["allow: [{change: '$.paths'}]", "allow: [{reason: why}]", "allow: {change: x}", "allow: [: ["],
)
def test_a_bad_allow_list_is_refused(text: str) -> None:
    with pytest.raises(AllowListError):
        parse_allowances(text)


# The command, end to end, in a git repository of its own.


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        check=True,
        capture_output=True,
    )


def _check(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "spec_compat", "--spec", str(repo / "openapi.yaml")]
    return subprocess.run(
        [*command, "--allow", str(repo / "compat-allow.yaml"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=300,
    )


@pytest.mark.slow  # the differ runs in node
def test_the_command_fails_on_a_breaking_change_until_it_is_acknowledged(tmp_path: Path) -> None:
    try:
        compare_many([])
    except DifferUnavailable as exc:
        pytest.skip(f"the differ cannot be installed or run here: {exc}")
    repo = tmp_path / "repo"
    repo.mkdir()
    spec = repo / "openapi.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    assert _check(repo, "--base", "HEAD~1").returncode == 2  # the first commit has no parent: said, not hidden

    spec.write_text(yaml.safe_dump(_edited(EDITS["operation removed"][0]), sort_keys=False), encoding="utf-8")
    failed = _check(repo)  # default base: the merge base with main
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "BREAKING      $.paths['/top-leads'].get" in failed.stdout
    assert "FAILED: 1 breaking change(s)" in failed.stdout

    allow = repo / "compat-allow.yaml"
    allow.write_text("allow:\n  - change: \"$.paths['/top-leads'].get\"\n    reason: retired, no caller\n")
    passed = _check(repo, "--base", "HEAD")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "acknowledged by compat-allow.yaml: retired, no caller" in passed.stdout

    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "retire top-leads")
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    assert _check(repo, "--base", "HEAD~1").returncode == 0  # the entry came with the change
    # Against a file base, the entry counts too; a stale entry of the base does not.
    assert _check(repo, "--base", str(base)).returncode == 0
    _git(repo, "commit", "-q", "--allow-empty", "-m", "later")
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "restore")
    restored = _check(repo, "--base", "HEAD~2", "--json")
    assert restored.returncode == 0, restored.stdout
    assert '"kind": "non-breaking"' in restored.stdout
    spec.write_text(yaml.safe_dump(_edited(EDITS["operation removed"][0]), sort_keys=False), encoding="utf-8")
    again = _check(repo, "--base", "HEAD")
    assert again.returncode == 1, "the committed entry must not acknowledge the same change again"


@pytest.mark.slow  # the differ runs in node
def test_a_change_of_a_schema_inside_allof_is_reported_where_it_is_used(verdicts: dict[str, list[Change]]) -> None:
    """ListedLead is allOf [Lead, ScoreBreakdown]: the differ compares merged schemas (spec_compat/diff.cjs)."""
    listed = "$.paths['/leads'].get.responses['200'].content['application/json'].schema.properties.leads.items"
    added = {c.where: c.kind for c in verdicts["new optional response field"]}
    assert added.get(f"{listed}.properties.segment") == NON_BREAKING, added
    retyped = {c.where: c.kind for c in verdicts["response type changed (integer to string)"]}
    assert retyped.get(f"{listed}.properties.score.type") == BREAKING, retyped
