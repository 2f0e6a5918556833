"""Drift: what a live deployment sends that the spec does not declare (a field, a header, a status).

The spec's response objects are open for extension, so a tolerant reader accepts an undeclared field;
the gate still wants to know. A `DriftCollector` is created per run and used as a check: it records each
undeclared thing once, with the operation and a sample, and the run reports them in a section of its
output and in `reports/drift.json`. Drift fails the run only with LEADVIBE_STRICT=1. Missing required
fields, wrong types and formats are not drift: the response-schema checks fail on them as before.

Against the in-process mock the gate is strict instead: `exactly_the_declared_fields` holds every response
to the closed copy of its schema (leadvibe_contract.contract.closed_document).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemathesis import CheckContext, Response

from contracts.checks import ERROR_MEDIA_TYPES, Case, Check, media_type_of
from leadvibe_contract.contract import Contract, OperationSpec
from leadvibe_contract.drift import undeclared_fields, undeclared_headers

STRICT_ENV = "LEADVIBE_STRICT"


def _operation(contract: Contract, case: Case) -> OperationSpec | None:
    return contract.operations.get(str(case.operation.definition.raw.get("operationId", "")))


def _json(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@dataclass
class DriftItem:
    kind: str  # "field", "header" or "status"
    operation: str
    what: str
    sample: Any
    count: int = 1


@dataclass
class DriftCollector:
    """Per run: every undeclared field, header and status, each once (with how often it was seen)."""

    contract: Contract
    # Samples are what a server sent: a server may echo a credential, so each is masked when recorded.
    redact: Callable[[str], str] = lambda text: text
    strict: bool = field(default_factory=lambda: os.environ.get(STRICT_ENV, "") == "1")
    items: dict[tuple[str, str, str], DriftItem] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _record(self, kind: str, operation: str, what: str, sample: Any) -> bool:
        with self._lock:
            key = (kind, operation, what)
            if key in self.items:
                self.items[key].count += 1
                return False
            text = json.dumps(sample, default=str)
            masked = self.redact(text)
            if masked != text:
                sample = masked
            self.items[key] = DriftItem(kind, operation, what, sample if len(masked) <= 200 else masked[:200] + "…")
            return True

    def observe(self, operation: OperationSpec, status: int, headers: dict[str, Any], body: Any) -> list[str]:
        """Record what a response carries beyond the spec; returns descriptions of what was new."""
        label = operation.label
        new = []
        if status not in operation.responses:
            if self._record("status", label, str(status), body):
                new.append(f"undeclared status {status}")
            return new
        for pointer, value in undeclared_fields(operation, status, body):
            if self._record("field", label, f"{status} {pointer}", value):
                new.append(f"undeclared field {pointer} in a {status}")
        values = {name.lower(): value for name, value in headers.items()}
        for lowered in undeclared_headers(self.contract, operation, status, list(headers)):
            if self._record("header", label, f"{status} {lowered}", values[lowered]):
                new.append(f"undeclared header {lowered} on a {status}")
        return new

    def check(self) -> Check:
        """The collector as a Schemathesis check: records drift; fails on it only when strict."""

        def drift(ctx: CheckContext, response: Response, case: Case) -> bool | None:
            operation = _operation(self.contract, case)
            if operation is None:
                return None
            headers = {name: values[0] if values else "" for name, values in response.headers.items()}
            new = self.observe(operation, response.status_code, headers, _json(response))
            assert not (self.strict and new), f"drift ({STRICT_ENV}=1): " + "; ".join(new)
            return None

        return drift

    def report(self) -> dict[str, Any]:
        items = sorted(self.items.values(), key=lambda item: (item.operation, item.kind, item.what))
        return {
            "strict": self.strict,
            "count": len(items),
            "drift": [
                {"kind": i.kind, "operation": i.operation, "what": i.what, "sample": i.sample, "seen": i.count}
                for i in items
            ],
        }

    def write(self, path: Path) -> list[str]:
        """Write the machine-readable report; the lines of the output section."""
        return write_drift(self.report(), path)


def merge_drift(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report of the reports of a run's workers: each undeclared thing once, its sightings summed."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for report in reports:
        for item in report["drift"]:
            key = (item["operation"], item["kind"], item["what"])
            if key in merged:
                merged[key]["seen"] += item["seen"]
            else:
                merged[key] = dict(item)
    items = [merged[key] for key in sorted(merged)]
    return {"strict": any(report["strict"] for report in reports), "count": len(items), "drift": items}


def write_drift(report: dict[str, Any], path: Path) -> list[str]:
    """Write the machine-readable report; the lines of the output section."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    lines = [f"drift: {report['count']} undeclared thing(s); report in {path}"]
    for item in report["drift"]:
        sample = json.dumps(item["sample"], default=str)
        lines.append(f"  {item['operation']}: {item['kind']} {item['what']} (seen {item['seen']}x), e.g. {sample[:80]}")
    return lines


def exactly_the_declared_fields(contract: Contract) -> Check:
    """In-process only: the mock's response holds to the closed copy of its schema (no undeclared member,
    every nullable field sent), and its errors are problem documents."""

    def check(ctx: CheckContext, response: Response, case: Case) -> bool | None:
        operation = _operation(contract, case)
        if operation is None:
            return None
        body = _json(response)
        extra = undeclared_fields(operation, response.status_code, body)
        assert not extra, f"the mock sent undeclared fields: {[pointer for pointer, _ in extra]}"
        if response.status_code >= 400:
            media_type = media_type_of(response)
            assert media_type == ERROR_MEDIA_TYPES[0], f"the mock's {response.status_code} is {media_type!r}"
        validator = operation.closed_responses.get(response.status_code)
        if validator is not None and body is not None:
            errors = [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(body)][:3]
            assert not errors, f"the mock's answer breaks the closed schema: {errors}"
        return None

    check.__name__ = "exactly_the_declared_fields"
    return check
