"""Valid requests built from openapi.yaml's own examples: one per operation, for a given lead.

Used wherever a test needs "this operation, called correctly" (auth, isolation, method checks)
without writing the operation's parameters or body a second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from leadvibe_contract.contract import Contract

EXAMPLE_LEAD = "ld_123"


@dataclass(frozen=True)
class ExampleRequest:
    operation_id: str
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def label(self) -> str:
        return f"{self.operation_id} ({self.method} {self.path})"


def example_request(spec: Contract, operation_id: str, lead_id: str = EXAMPLE_LEAD) -> ExampleRequest:
    """The operation called with its documented examples, on `lead_id` wherever the path names a lead."""
    operation = spec.operations[operation_id]
    query = {
        parameter.name: str(parameter.example)
        for parameter in operation.parameters
        if parameter.location == "query" and parameter.required
    }
    path = operation.path
    for place in operation.places:
        if place.location == "path" and place.identifies == "lead":
            path = path.replace(f"{{{place.name}}}", lead_id)
    body = None
    if operation.body is not None:
        body = operation.body.examples.get("application/json", next(iter(operation.body.examples.values()), None))
    return ExampleRequest(operation_id, operation.method.upper(), path, query, body)
