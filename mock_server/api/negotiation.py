"""Which response to send when the client forces one, Prism-compatible: the `Prefer` header.

`Prefer: code=404` picks the status, `example=<name>` a named example of the response, `dynamic=true` a
body generated from the schema; they combine (`Prefer: code=200, example=ld_123` or `code=404,
dynamic=true`). The answer carries `Preference-Applied` naming what was honoured. Without `code`, the
lowest 2xx the operation declares is used.

Kept apart from the store on purpose (as in Prism's mocker): a forced response is built from the spec
alone and changes no state. It comes after authentication and request validation, like Prism, which
validates security and the request unless told otherwise: a forced 200 with a bad token is still a 401,
so a front end cannot pass its tests with requests the real API refuses. Other preferences (RFC 7240's
`return=minimal`, `respond-async` ...) are ignored, as the RFC asks.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadvibe_contract.contract import Contract, OperationSpec
from mock_server.api.fake import Seeded, fake
from mock_server.api.numbers import whole_number
from mock_server.api.problems import ApiProblem, FieldError

_rng = random.Random()


@dataclass(frozen=True)
class Preferences:
    code: int | None = None
    example: str | None = None
    dynamic: bool = False
    seed: int | None = None  # the same seed, the same dynamic body

    @property
    def any(self) -> bool:
        return self.code is not None or self.example is not None or self.dynamic or self.seed is not None

    def rng(self) -> random.Random:
        return Seeded(self.seed) if self.seed is not None else _rng

    def applied(self) -> str:
        parts = []
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.example is not None:
            parts.append(f"example={self.example}")
        if self.dynamic:
            parts.append("dynamic=true")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ", ".join(parts)


def _bad(detail: str) -> ApiProblem:
    return ApiProblem(400, "unsatisfiable-preference", detail, errors=[FieldError("header", "Prefer", detail)])


def parse_prefer(header: str) -> Preferences:
    """The mock's preferences of a `Prefer` header (comma- or semicolon-separated `name=value`)."""
    found: dict[str, str] = {}
    for part in header.replace(";", ",").split(","):
        name, _, value = part.strip().partition("=")
        found[name.strip().lower()] = value.strip().strip('"')
    code = found.get("code")
    status = whole_number(code, 100, 599) if code is not None else None
    if code is not None and status is None:
        raise _bad(f"Prefer code={code[:20]!r} is not an HTTP status.")
    dynamic = found.get("dynamic", "false").lower()
    if dynamic not in ("true", "false"):
        raise _bad(f"Prefer dynamic={dynamic[:20]!r} must be true or false.")
    given_seed = found.get("seed")
    seed = whole_number(given_seed, 0, 2**63) if given_seed is not None else None
    if given_seed is not None and seed is None:
        raise _bad(f"Prefer seed={given_seed[:20]!r} is not a whole number.")
    return Preferences(status, found.get("example") or None, dynamic == "true" or seed is not None, seed)


QUERY_PREFIX = "__"  # Prism's `?__code=404&__example=ld_123&__dynamic=true` (and `__seed=42`)
QUERY_FORCING = frozenset(QUERY_PREFIX + name for name in ("code", "example", "dynamic", "seed"))


def query_preferences(query: Mapping[str, list[str]]) -> str:
    """The forcing parameters of a query string as a `Prefer` header, for links and images that cannot
    send one; `parse_prefer` then reads both alike (the query's come last, so they win)."""
    return ", ".join(
        f"{name.removeprefix(QUERY_PREFIX)}={values[-1]}"
        for name, values in query.items()
        if name in QUERY_FORCING and values
    )


@dataclass(frozen=True)
class Forced:
    status: int
    body: Any
    media_type: str
    headers: Mapping[str, str]


def forced_response(spec: Contract, operation: OperationSpec, prefer: Preferences) -> Forced:
    """The response `prefer` asks for, from the spec alone; a 400 problem when it names nothing declared."""
    statuses = sorted(operation.responses)
    status = prefer.code if prefer.code is not None else next((s for s in statuses if 200 <= s < 300), statuses[0])
    declared = operation.raw.get("responses", {})
    raw = declared.get(str(status))
    if raw is None:
        listed = ", ".join(map(str, statuses))
        raise _bad(
            f"{operation.label} declares no {status} response (it declares {listed}); "
            "for an undeclared failure use the X-Mock-Fail header."
        )
    response = spec.resolve(raw)
    media_type, content = next(iter(response.get("content", {}).items()), ("application/json", {}))
    content = spec.resolve(content)
    body = _body(spec, operation, status, content, prefer)
    headers = {"Preference-Applied": prefer.applied()}
    for name, raw_header in response.get("headers", {}).items():
        header = spec.resolve(raw_header)
        if name.lower() == "www-authenticate":
            headers[name] = 'Bearer realm="leadvibe"'
        elif header.get("required") and name.lower() != "set-cookie":  # a forced response sets no state
            value = header.get("example", spec.resolve(header.get("schema", {})).get("examples", [None])[0])
            headers[name] = str(
                value if value is not None else fake(header.get("schema", {}), spec.resolve, prefer.rng())
            )
    return Forced(status, body, media_type, headers)


def _body(
    spec: Contract, operation: OperationSpec, status: int, content: Mapping[str, Any], prefer: Preferences
) -> Any:
    examples = {name: spec.resolve(example).get("value") for name, example in content.get("examples", {}).items()}
    if prefer.example is not None:
        if prefer.example not in examples:
            names = ", ".join(sorted(examples)) or "none"
            raise _bad(f"{operation.label} {status} has no example {prefer.example!r} (its examples: {names}).")
        return examples[prefer.example]
    documented = content["example"] if "example" in content else next(iter(examples.values()), None)
    if not prefer.dynamic and documented is not None:
        return documented
    validator = operation.responses.get(status)
    schema = content.get("schema", {})
    rng = prefer.rng()
    for _ in range(20):
        body = fake(schema, spec.resolve, rng)
        if status >= 400 and isinstance(body, dict):
            body.update(_problem_fields(status, prefer))
        if validator is None or validator.is_valid(body):
            return body
    if documented is not None:
        return documented
    return _problem_fields(status, prefer) if status >= 400 else {}


def _problem_fields(status: int, prefer: Preferences) -> dict[str, Any]:
    problem = ApiProblem(status, "forced", f"A {status} response forced by 'Prefer: {prefer.applied()}'.")
    return problem.to_dict()
