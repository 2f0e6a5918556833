"""What a response carries beyond the spec (an undeclared field, header or status), judged from the
contract alone, so that both the gate (`contracts/drift.py`) and the validating proxy
(`mock_server/proxy/app.py`) name drift the same way without either importing the other.
"""

from __future__ import annotations

from typing import Any

from leadvibe_contract.contract import Contract, OperationSpec

# Headers any HTTP stack may add; never drift.
GENERIC_HEADERS = frozenset(
    {
        "content-type", "content-length", "content-encoding", "transfer-encoding", "date", "server", "vary",
        "connection", "keep-alive", "cache-control", "expires", "pragma", "etag", "last-modified", "age", "via",
        "allow", "strict-transport-security", "x-content-type-options", "x-frame-options", "x-xss-protection",
        "referrer-policy", "content-security-policy", "permissions-policy", "x-request-id", "x-correlation-id",
        "access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods",
        "access-control-allow-headers", "access-control-expose-headers", "access-control-max-age",
        "cross-origin-opener-policy", "cross-origin-resource-policy", "alt-svc", "nel", "report-to",
        "www-authenticate", "retry-after",
    }
)  # fmt: skip


def undeclared_fields(operation: OperationSpec, status: int, body: Any) -> list[tuple[str, Any]]:
    """(JSON pointer, value) of every member the closed copy of the response schema does not declare."""
    validator = operation.closed_responses.get(status)
    if validator is None or body is None:
        return []
    found = []
    for error in validator.iter_errors(body):
        kind: Any = error.kind
        if kind.name in ("unevaluatedProperties", "additionalProperties"):
            base = "".join(f"/{part}" for part in error.instance_path)
            for name in kind.unexpected:
                value = error.instance[name] if isinstance(error.instance, dict) else None
                found.append((f"{base}/{name}", value))
    return found


def declared_headers(contract: Contract, operation: OperationSpec, status: int) -> set[str]:
    raw = operation.raw.get("responses", {}).get(str(status), {})
    return {name.lower() for name in contract.resolve(raw).get("headers", {})}


def undeclared_headers(contract: Contract, operation: OperationSpec, status: int, names: list[str]) -> list[str]:
    """The header names (lower case) a response of this operation and status does not declare."""
    declared = declared_headers(contract, operation, status)
    found = []
    for name in names:
        lowered = name.lower()
        if lowered in declared or lowered in GENERIC_HEADERS or lowered.startswith("x-amz"):
            continue
        found.append(lowered)
    return found
