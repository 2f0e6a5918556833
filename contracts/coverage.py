"""The API coverage of a gate run: what it reached of the contract, so that a quiet gate says "never looked".

Per operation: which declared statuses were answered, which documented response fields were ever present,
which parameters were sent, and which of them with a value that breaks the parameter's schema (its rules:
type, enum, bounds, pattern, length, exercised). Every request of the run is seen: Schemathesis' cases
through its public `after_call` hook (registered on each schema of the run, `contracts.run`), the
semantic contracts' through the client's `observe` (`contracts.client`). A fanned-out run's workers send
theirs with the run's facts; the report merges them.

At the end of the session the report goes to `coverage.json` and `coverage.md` (gaps first, then the
table) in the run's report folder, and its table and gaps to the terminal. An offline run that ran the
conformance test of every operation fails when one operation was never reached (`make test`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from contracts.shape import documented, shape
from leadvibe_contract.contract import Contract, OperationSpec, ParameterSpec, load_contract, path_pattern

CONFORMANCE_TEST = "test_operation_keeps_the_contract"
PRINTED_GAPS = 25
OFFLINE_REPORTS = Path("reports")  # a run of the runner writes into its own report folder instead


def _response_fields(contract: Contract, operation: OperationSpec) -> dict[int, set[str]]:
    fields = {}
    for status, raw in operation.raw.get("responses", {}).items():
        content = contract.resolve(raw).get("content", {})
        fields[int(status)] = documented(contract, content)[0]
    return fields


def _coerce(parameter: ParameterSpec, value: Any) -> Any:
    """A value as sent (query, path, header and cookie values are text) in the parameter's declared type."""
    if not isinstance(value, str):
        return value
    try:
        if parameter.json_type == "integer":
            return int(value)
        if parameter.json_type == "number":
            return float(value)
    except ValueError:
        return value
    if parameter.json_type == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _values(value: Any) -> Iterator[Any]:
    yield from value if isinstance(value, list | tuple) else [value]


class Coverage:
    """What one process of the run saw, as mergeable plain data (`data`)."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.calls: Counter[str] = Counter()
        self.statuses: dict[str, Counter[int]] = {}
        self.fields: dict[str, set[str]] = {}
        self.parameters: dict[str, dict[str, Counter[str]]] = {}
        # (method, compiled path, operation id): literal paths first (/lead/by-alias before /lead/{leadID}).
        self._routes = sorted(
            ((op.method.upper(), path_pattern(op.path), op) for op in contract.operations.values()),
            key=lambda route: route[2].path.count("{"),
        )
        self._by_label = {op.label: op for op in contract.operations.values()}  # as Schemathesis names them

    def observe(
        self,
        operation: OperationSpec,
        status: int,
        body: Any,
        sent: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """One answer of `operation`; `sent`: location ("path", "query", "header", "cookie") -> name -> value."""
        op_id = operation.operation_id
        self.calls[op_id] += 1
        self.statuses.setdefault(op_id, Counter())[status] += 1
        if body is not None:
            self.fields.setdefault(op_id, set()).update(pointer for pointer in shape(body) if pointer)
        parameters = self.parameters.setdefault(op_id, {})
        for parameter in operation.parameters:
            given = {k.lower(): v for k, v in sent.get(parameter.location, {}).items()}
            if parameter.name.lower() not in given:
                continue
            counts = parameters.setdefault(f"{parameter.location} {parameter.name}", Counter())
            counts["sent"] += 1
            values = [_coerce(parameter, value) for value in _values(given[parameter.name.lower()])]
            counts["valid" if all(parameter.validator.is_valid(v) for v in values) else "invalid"] += 1

    def observe_request(self, method: str, path: str, params: Mapping[str, Any], status: int, text: str) -> None:
        """A request of the semantic contracts (`contracts.client`), matched to its operation by its path."""
        for route_method, pattern, operation in self._routes:
            found = pattern.fullmatch(path.split("?", 1)[0])
            if route_method == method.upper() and found:
                try:
                    body = json.loads(text) if text else None
                except ValueError:
                    body = None
                self.observe(operation, status, body, {"path": found.groupdict(), "query": params})
                return

    def hook(self) -> Callable[[Any, Any, Any], None]:
        """Schemathesis' `after_call` hook, for `schema.hook("after_call")` (a function: Schemathesis marks it)."""

        def after_call(context: Any, case: Any, response: Any) -> None:
            self.after_call(case, response)

        return after_call

    def after_call(self, case: Any, response: Any) -> None:
        """Every call of a case, whatever its test."""
        operation = self._by_label.get(case.operation.label)
        if operation is None:
            return
        try:
            body = response.json()
        except Exception:
            body = None
        sent = {
            "path": case.path_parameters or {},
            "query": case.query or {},
            "header": case.headers or {},
            "cookie": case.cookies or {},
        }
        self.observe(operation, response.status_code, body, sent)

    def data(self) -> dict[str, Any]:
        return {
            op_id: {
                "calls": self.calls[op_id],
                "statuses": {str(k): v for k, v in self.statuses.get(op_id, {}).items()},
                "fields": sorted(self.fields.get(op_id, set())),
                "parameters": {name: dict(counts) for name, counts in self.parameters.get(op_id, {}).items()},
            }
            for op_id in self.calls
        }


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One run's coverage from what each of its processes saw."""
    merged: dict[str, Any] = {}
    for part in parts:
        for op_id, seen in part.items():
            into = merged.setdefault(op_id, {"calls": 0, "statuses": Counter(), "fields": set(), "parameters": {}})
            into["calls"] += seen["calls"]
            into["statuses"].update(seen["statuses"])
            into["fields"].update(seen["fields"])
            for name, counts in seen["parameters"].items():
                into["parameters"].setdefault(name, Counter()).update(counts)
    return merged


def report(contract: Contract, seen: dict[str, Any]) -> dict[str, Any]:
    """Per operation of the contract: what was reached and what never was; and the gap list."""
    operations = []
    gaps: list[str] = []
    for operation in contract.operations.values():
        got = seen.get(operation.operation_id, {"calls": 0, "statuses": {}, "fields": set(), "parameters": {}})
        declared = sorted(operation.responses)
        statuses = {int(status) for status in got["statuses"]}
        documented = set().union(*_response_fields(contract, operation).values())
        names = [f"{parameter.location} {parameter.name}" for parameter in operation.parameters]
        parameters = {name: got["parameters"].get(name, {}) for name in names}
        entry = {
            "operation": operation.operation_id,
            "label": operation.label,
            "calls": got["calls"],
            "statuses_seen": sorted(s for s in statuses if s in operation.responses),
            "statuses_never_seen": [s for s in declared if s not in statuses],
            "undeclared_statuses_seen": sorted(s for s in statuses if s not in operation.responses),
            "fields_documented": len(documented),
            "fields_never_present": sorted(documented - set(got["fields"])),
            "parameters_never_sent": [name for name, counts in parameters.items() if not counts.get("sent")],
            "parameter_rules_never_broken": [name for name, counts in parameters.items() if not counts.get("invalid")],
            "parameters": {name: dict(counts) for name, counts in parameters.items()},
        }
        operations.append(entry)
        label = operation.label
        if not got["calls"]:
            gaps.append(f"{label}: never reached")
            continue
        gaps += [f"{label}: status {s} never seen" for s in entry["statuses_never_seen"]]
        gaps += [f"{label}: parameter {name} never sent" for name in entry["parameters_never_sent"]]
        gaps += [
            f"{label}: the rules of parameter {name} never broken"
            for name in entry["parameter_rules_never_broken"]
            if name not in entry["parameters_never_sent"]
        ]
        gaps += [f"{label}: field {pointer} never present" for pointer in entry["fields_never_present"]]
    unreached = [entry["operation"] for entry in operations if not entry["calls"]]
    return {"unreached": unreached, "gaps": gaps, "operations": operations}


def markdown(document: dict[str, Any]) -> str:
    lines = ["# API coverage of the gate run", "", f"## Gaps ({len(document['gaps'])})", ""]
    lines += [f"- {gap}" for gap in document["gaps"]] or ["- none"]
    lines += ["", "## Operations", "", table(document)]
    return "\n".join(lines) + "\n"


def table(document: dict[str, Any]) -> str:
    rows = [
        "| operation | calls | statuses seen | never seen | fields present | parameters sent | rules broken |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for entry in document["operations"]:
        params = entry["parameters"]
        sent = sum(1 for counts in params.values() if counts.get("sent"))
        broken = sum(1 for counts in params.values() if counts.get("invalid"))
        present = entry["fields_documented"] - len(entry["fields_never_present"])
        rows.append(
            f"| {entry['label']} | {entry['calls']} | {' '.join(map(str, entry['statuses_seen'])) or '-'} "
            f"| {' '.join(map(str, entry['statuses_never_seen'])) or '-'} "
            f"| {present}/{entry['fields_documented']} | {sent}/{len(params)} | {broken}/{len(params)} |"
        )
    return "\n".join(rows)


def _contract(config: pytest.Config) -> Contract:
    """The target's contract, as contracts/conftest.py parametrizes the tests by it."""
    from contracts.plugin import TARGET_KEY
    from contracts.target import target_from_env

    plugin = config.stash.get(TARGET_KEY, None)
    return load_contract(plugin.target.spec_path if plugin is not None else target_from_env().spec_path)


def _write(path: Path, text: str) -> None:
    """Whole or not at all: two gate runs of one test session may write the same default folder."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


SHARE = "leadvibe-coverage"  # a pytest-xdist worker's share of an offline session (make test), for its controller


class CoverageReport:
    """The pytest plugin that writes and prints the report at the end of the session (the controller's, in
    a fanned-out run: a worker's coverage arrives with its facts; under make test's pytest-xdist workers, each
    worker's share arrives in its `workeroutput`)."""

    def __init__(self, report_dir: Path, facts: list[dict[str, Any]] | None = None) -> None:
        self.report_dir = report_dir
        self.facts = facts  # the fan-out's list of the workers' facts, when there is one
        self.document: dict[str, Any] | None = None
        self.tested: set[Any] = set()
        self.contract: Contract | None = None
        self.shares: list[dict[str, Any]] = []

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        share = getattr(node, "workeroutput", {}).get(SHARE)
        if share:
            self.shares.append(share)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """The operations whose conformance test runs in this process (under pytest-xdist, a worker runs some)."""
        if item.name.startswith(CONFORMANCE_TEST) and hasattr(item, "callspec"):
            self.tested.add(item.callspec.params.get("operation_id"))

    @property
    def all_operations_tested(self) -> bool:
        return self.contract is not None and self.tested >= set(self.contract.operations)

    @pytest.hookimpl(tryfirst=True)  # before the run summary, which shows the report (`section`)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from contracts.plugin import RUN_KEY  # the run, once the session built it

        run: Any = session.config.stash.get(RUN_KEY, None)
        offline = run is not None and not run.target.live
        if offline and hasattr(session.config, "workerinput"):  # a pytest-xdist worker: its controller reports
            share = {"coverage": run.coverage.data(), "tested": sorted(self.tested)}
            session.config.workeroutput[SHARE] = share  # type: ignore[attr-defined]
            return
        parts = [fact.get("coverage") or {} for fact in (self.facts or [])]
        parts += [share["coverage"] for share in self.shares]
        self.tested.update(name for share in self.shares for name in share["tested"])
        offline = offline or bool(self.shares)
        if run is not None:
            parts.append(run.coverage.data())
        if not any(parts):
            return
        contract = self.contract = run.contract if run is not None else _contract(session.config)
        self.document = report(contract, merge(parts))
        self.report_dir.mkdir(parents=True, exist_ok=True)
        _write(self.report_dir / "coverage.json", json.dumps(self.document, indent=2) + "\n")
        _write(self.report_dir / "coverage.md", markdown(self.document))
        if offline and self.all_operations_tested and self.document["unreached"] and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def section(self) -> str:
        """The report as a section of the run's summary.md (empty before the session has finished)."""
        if self.document is None:
            return ""
        gaps = [f"- {gap}" for gap in self.document["gaps"][:PRINTED_GAPS]]
        more = len(self.document["gaps"]) - PRINTED_GAPS
        lines = ["## API coverage", "", table(self.document), "", f"Gaps: {len(self.document['gaps'])}", "", *gaps]
        lines += [f"- ... and {more} more (coverage.md)"] if more > 0 else []
        return "\n".join(lines) + "\n"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.document is None:
            return
        gaps = self.document["gaps"]
        terminalreporter.section("API coverage")
        terminalreporter.write_line(table(self.document))
        terminalreporter.write_line(f"gaps: {len(gaps)} (all in {self.report_dir / 'coverage.md'}, coverage.json)")
        for gap in gaps[:PRINTED_GAPS]:
            terminalreporter.write_line(f"  {gap}")
        if len(gaps) > PRINTED_GAPS:
            terminalreporter.write_line(f"  ... and {len(gaps) - PRINTED_GAPS} more")
        if self.document["unreached"] and self.all_operations_tested:
            terminalreporter.write_line(
                "FAILED: the gate tested every operation, yet never reached: " + ", ".join(self.document["unreached"]),
                red=True,
            )
