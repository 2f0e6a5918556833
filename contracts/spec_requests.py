"""Valid requests built from openapi.yaml's own examples: one per operation, for a given lead.

Used wherever a contract needs "this operation, called correctly" (auth, isolation, method checks)
without writing the operation's parameters or body a second time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_server.spec import ApiSpec, OperationSpec


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


def _parameter_example(spec: ApiSpec, operation: OperationSpec, name: str) -> Any:
    document = spec.document["paths"][operation.path]
    for raw in [*document.get("parameters", []), *document[operation.method].get("parameters", [])]:
        parameter = spec.resolve(raw)
        if parameter["name"] == name:
            return parameter["example"]
    raise KeyError(name)


def _body_example(spec: ApiSpec, operation: OperationSpec) -> Any:
    raw = spec.document["paths"][operation.path][operation.method].get("requestBody")
    if raw is None:
        return None
    content = spec.resolve(raw)["content"]
    media = content.get("application/json") or next(iter(content.values()))
    return media["example"]


def example_request(spec: ApiSpec, operation_id: str, lead_id: str = "ld_123") -> ExampleRequest:
    """The operation called with its documented examples, on `lead_id` where the path names a lead."""
    operation = spec.operations[operation_id]
    query = {
        parameter.name: str(_parameter_example(spec, operation, parameter.name))
        for parameter in operation.parameters
        if parameter.location == "query" and parameter.required
    }
    return ExampleRequest(
        operation_id=operation_id,
        method=operation.method.upper(),
        path=operation.path.replace("{leadID}", lead_id),
        query=query,
        body=_body_example(spec, operation),
    )


def parameter_schema(spec: ApiSpec, operation_id: str, name: str) -> Mapping[str, Any]:
    """The (resolved) schema of one parameter of an operation: its enum, bounds and default."""
    return next(p.schema for p in spec.operations[operation_id].parameters if p.name == name)


def lead_operations(spec: ApiSpec) -> Iterator[OperationSpec]:
    """Every operation whose path names one lead."""
    return (operation for operation in spec.operations.values() if "{leadID}" in operation.path)
