"""openapi.yaml, loaded and compiled once: the operations the mock serves and the validators it checks with.

Everything the mock knows about the contract (paths, methods, parameters, body schemas, limits) is read
from here, so that the spec stays the single source of truth.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import yaml
from jsonschema_rs import Validator

SPEC_URI = "urn:leadvibe:openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Vendor extensions of openapi.yaml that carry limits JSON Schema cannot express.
MAX_REQUEST_BYTES_KEY = "x-max-request-bytes"
MAX_SERIALIZED_BYTES_KEY = "x-max-serialized-bytes"


class SpecError(Exception):
    """openapi.yaml cannot be used by the mock (a missing file, an unresolvable reference, ...)."""


def default_spec_path() -> Path:
    """The spec shipped inside the package (wheel installs), else the repository's own openapi.yaml."""
    packaged = Path(__file__).with_name("openapi.yaml")
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "openapi.yaml"


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter, with the validator of its schema and its declared type for coercion."""

    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]
    json_type: str | None
    default: Any
    validator: Validator


@dataclass(frozen=True)
class BodySpec:
    """The request body of an operation: whether it is required and one validator per media type."""

    required: bool
    media_types: Mapping[str, Validator]


@dataclass(frozen=True)
class OperationSpec:
    """One operation of the spec, as the mock serves it."""

    operation_id: str
    method: str
    path: str
    parameters: tuple[ParameterSpec, ...]
    body: BodySpec | None
    responses: Mapping[int, Validator | None]

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass(frozen=True, eq=False)
class ApiSpec:
    """The loaded spec: the raw document, compiled operations and a factory for schema validators."""

    document: Mapping[str, Any]
    operations: Mapping[str, OperationSpec]
    registry: jsonschema_rs.Registry = field(repr=False)

    def schema(self, name: str) -> Mapping[str, Any]:
        """A schema of `components/schemas`, as written (references not resolved)."""
        schema: Mapping[str, Any] = self.document["components"]["schemas"][name]
        return schema

    def validator(self, pointer: str) -> Validator:
        """A Draft 2020-12 validator (with format checks) of the schema at a JSON pointer of the spec."""
        return _validator(self.registry, pointer)

    def component_validator(self, name: str) -> Validator:
        return self.validator(f"/components/schemas/{name}")

    @property
    def max_request_bytes(self) -> int:
        return int(self.document["info"][MAX_REQUEST_BYTES_KEY])

    def resolve(self, node: Any) -> Any:
        """Follow a `$ref` (and chains of them) within the document."""
        return resolve_ref(self.document, node)

    def at(self, path: Iterable[str | int]) -> Any:
        """The node at a path of keys (as jsonschema-rs reports `schema_path`)."""
        node: Any = self.document
        for key in path:
            node = node[key]
        return node


def resolve_ref(document: Mapping[str, Any], node: Any) -> Any:
    seen = 0
    while isinstance(node, Mapping) and "$ref" in node:
        ref: str = node["$ref"]
        if not ref.startswith("#/"):
            raise SpecError(f"only local references are supported: {ref}")
        node = document
        for raw_token in ref[2:].split("/"):
            token = raw_token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        seen += 1
        if seen > 32:
            raise SpecError(f"reference loop at {ref}")
    return node


def _validator(registry: jsonschema_rs.Registry, pointer: str) -> Validator:
    """Compiled once: jsonschema-rs validates in microseconds, which keeps the mock fast."""
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{quote(pointer, safe='/~')}"}, registry=registry, validate_formats=True
    )


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _declared_type(spec_resolve: Any, schema: Mapping[str, Any]) -> str | None:
    """The JSON type a parameter declares, looking through `$ref` and `allOf` (for query coercion)."""
    schema = spec_resolve(schema)
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    for part in schema.get("allOf", []):
        found = _declared_type(spec_resolve, part)
        if found:
            return found
    return None


def _iter_operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any], str]]:
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item, f"/paths/{_escape(path)}/{method}"


def compile_spec(document: Mapping[str, Any]) -> ApiSpec:
    """Compile the validators of every operation of an already-parsed document."""
    try:
        registry = jsonschema_rs.Registry([(SPEC_URI, dict(document))])
    except jsonschema_rs.ReferencingError as exc:
        raise SpecError(f"openapi.yaml has an unresolvable reference: {exc}") from exc
    spec = ApiSpec(document=document, operations={}, registry=registry)
    operations: dict[str, OperationSpec] = {}
    for path, method, item, pointer in _iter_operations(document):
        operation = item[method]
        operation_id = operation.get("operationId")
        if not operation_id:
            raise SpecError(f"{method.upper()} {path} has no operationId")
        parameters = _compile_parameters(spec, item, operation, pointer)
        body = _compile_body(spec, operation, pointer)
        responses = _compile_responses(spec, operation, pointer)
        operations[operation_id] = OperationSpec(
            operation_id=operation_id,
            method=method,
            path=path,
            parameters=parameters,
            body=body,
            responses=responses,
        )
    return ApiSpec(document=document, operations=operations, registry=registry)


def _parameter_pointers(
    spec: ApiSpec, item: Mapping[str, Any], operation: Mapping[str, Any], pointer: str
) -> dict[tuple[str, str], tuple[Mapping[str, Any], str]]:
    """Path-level then operation-level parameters (the latter override), each with its schema's pointer."""
    path_pointer = pointer.rsplit("/", 1)[0]
    found: dict[tuple[str, str], tuple[Mapping[str, Any], str]] = {}
    for owner, owner_pointer in ((item, path_pointer), (operation, pointer)):
        for index, raw in enumerate(owner.get("parameters", [])):
            if "$ref" in raw:
                location = raw["$ref"].removeprefix("#")
                parameter = spec.resolve(raw)
            else:
                location = f"{owner_pointer}/parameters/{index}"
                parameter = raw
            found[(parameter["in"], parameter["name"])] = (parameter, f"{location}/schema")
    return found


def _compile_parameters(
    spec: ApiSpec, item: Mapping[str, Any], operation: Mapping[str, Any], pointer: str
) -> tuple[ParameterSpec, ...]:
    compiled = []
    for (location, name), (parameter, schema_pointer) in _parameter_pointers(spec, item, operation, pointer).items():
        schema = parameter.get("schema", {})
        resolved = spec.resolve(schema)
        compiled.append(
            ParameterSpec(
                name=name,
                location=location,
                required=bool(parameter.get("required", location == "path")),
                schema=resolved,
                json_type=_declared_type(spec.resolve, schema),
                default=resolved.get("default"),
                validator=spec.validator(schema_pointer),
            )
        )
    return tuple(compiled)


def _compile_body(spec: ApiSpec, operation: Mapping[str, Any], pointer: str) -> BodySpec | None:
    raw = operation.get("requestBody")
    if raw is None:
        return None
    base = raw["$ref"].removeprefix("#") if "$ref" in raw else f"{pointer}/requestBody"
    body = spec.resolve(raw)
    media_types = {
        media_type: spec.validator(f"{base}/content/{_escape(media_type)}/schema")
        for media_type in body.get("content", {})
    }
    return BodySpec(required=bool(body.get("required", False)), media_types=media_types)


def _compile_responses(spec: ApiSpec, operation: Mapping[str, Any], pointer: str) -> dict[int, Validator | None]:
    compiled: dict[int, Validator | None] = {}
    for status, raw in operation.get("responses", {}).items():
        base = raw["$ref"].removeprefix("#") if "$ref" in raw else f"{pointer}/responses/{status}"
        response = spec.resolve(raw)
        content = response.get("content", {})
        validator = None
        for media_type in content:
            validator = spec.validator(f"{base}/content/{_escape(media_type)}/schema")
        compiled[int(status)] = validator
    return compiled


@functools.cache
def load_spec(path: Path | None = None) -> ApiSpec:
    """Parse and compile openapi.yaml; cached, so a process compiles each spec file once."""
    path = path or default_spec_path()
    try:
        with path.open(encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise SpecError(f"cannot read the OpenAPI spec {path}: {exc}") from exc
    return compile_spec(document)
