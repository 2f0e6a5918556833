"""openapi.yaml, loaded and compiled once: the one contract model the mock and the gate both read.

Operations, compiled validators, enums, limits and the places that hold lead ids all come from here, so
that the spec stays the single source of truth and nothing about the contract is typed twice. This package
imports neither the mock nor the gate.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import yaml
from jsonschema_rs import Validator

from leadvibe_contract.places import Place, WritePlan, operation_places, write_plan
from leadvibe_contract.windows import WindowError, check_windows

SPEC_URI = "urn:leadvibe:openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Vendor extensions of openapi.yaml that carry limits JSON Schema cannot express.
MAX_SERIALIZED_BYTES_KEY = "x-max-serialized-bytes"


READ_METHODS = frozenset({"get", "head", "options"})


class SpecError(Exception):
    """openapi.yaml cannot be used (a missing file, an unresolvable reference, a malformed rule ...)."""


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
    format: str | None = None
    example: Any = None

    @property
    def enum(self) -> tuple[Any, ...]:
        return tuple(self.schema.get("enum", ()))


@dataclass(frozen=True)
class BodySpec:
    """The request body of an operation: whether it is required and one validator per media type."""

    required: bool
    media_types: Mapping[str, Validator]
    # Top-level fields with a size limit as compact JSON (`x-max-serialized-bytes`), in bytes.
    size_limits: Mapping[str, int] = field(default_factory=dict)
    examples: Mapping[str, Any] = field(default_factory=dict)  # media type -> the documented example
    # The alternatives of a `oneOf` body, by component name: request bodies are open, so which one a body
    # is cannot be told from the fields it carries (an unknown field may share a name with another form's).
    forms: Mapping[str, Validator] = field(default_factory=dict)


@dataclass(frozen=True)
class OperationSpec:
    """One operation of the spec, as the mock serves it."""

    operation_id: str
    method: str
    path: str
    parameters: tuple[ParameterSpec, ...]
    body: BodySpec | None
    responses: Mapping[int, Validator | None]
    # The same responses held to exactly their declared properties (the mock's strictness; see closed_document).
    closed_responses: Mapping[int, Validator | None] = field(default_factory=dict)
    places: tuple[Place, ...] = ()
    write: WritePlan | None = None  # None for reads
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def is_write(self) -> bool:
        return self.method not in READ_METHODS

    @property
    def names_a_lead(self) -> bool:
        """Its path addresses one lead."""
        return any(place.location == "path" and place.identifies == "lead" for place in self.places)

    def parameter(self, name: str, location: str = "query") -> ParameterSpec:
        for parameter in self.parameters:
            if parameter.name == name and parameter.location == location:
                return parameter
        raise KeyError(f"{self.operation_id} has no {location} parameter '{name}'")


@dataclass(frozen=True, eq=False)
class Contract:
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

    def component_parameter(self, name: str) -> Mapping[str, Any]:
        """A parameter of `components/parameters` with its schema resolved (a limit stated there once)."""
        parameter = dict(self.resolve(self.document["components"]["parameters"][name]))
        parameter["schema"] = self.resolve(parameter.get("schema", {}))
        return parameter

    def operations_where(self, *, write: bool | None = None) -> list[OperationSpec]:
        """Operations sorted by operationId, optionally only writes or only reads."""
        return [op for _, op in sorted(self.operations.items()) if write is None or op.is_write == write]

    def resolve(self, node: Any) -> Any:
        """Follow a `$ref` (and chains of them) within the document."""
        return resolve_ref(self.document, node)

    def at(self, path: Iterable[str | int]) -> Any:
        """The node at a path of keys (as jsonschema-rs reports `schema_path`)."""
        node: Any = self.document
        for key in path:
            node = node[key]
        return node


def path_pattern(template: str) -> re.Pattern[str]:
    """A path template (`/lead/{leadID}`) as a regular expression of whole paths, one group per parameter."""
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{regex}$")


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


def compile_spec(document: Mapping[str, Any]) -> Contract:
    """Compile every operation of an already-parsed document; a malformed extension is a SpecError."""
    try:
        registry = jsonschema_rs.Registry([(SPEC_URI, dict(document))])
    except jsonschema_rs.ReferencingError as exc:
        raise SpecError(f"openapi.yaml has an unresolvable reference: {exc}") from exc
    spec = Contract(document=document, operations={}, registry=registry)
    try:
        closed_registry = jsonschema_rs.Registry([(SPEC_URI, closed_document(document))])
    except jsonschema_rs.ReferencingError as exc:
        raise SpecError(f"the closed copy of openapi.yaml has an unresolvable reference: {exc}") from exc
    operations: dict[str, OperationSpec] = {}
    for path, method, item, pointer in _iter_operations(document):
        operation = item[method]
        operation_id = operation.get("operationId")
        if not operation_id:
            raise SpecError(f"{method.upper()} {path} has no operationId")
        raw_parameters = _parameter_pointers(spec, item, operation, pointer)
        parameters = _compile_parameters(spec, raw_parameters)
        body = _compile_body(spec, operation, pointer)
        body_schemas = [
            media.get("schema", {})
            for media in spec.resolve(operation.get("requestBody", {})).get("content", {}).values()
        ]
        places = operation_places(
            document, spec.resolve, {key: value for key, (value, _) in raw_parameters.items()}, body_schemas
        )
        try:
            for parameter in parameters:
                check_windows(parameter.enum, f"{method.upper()} {path} parameter '{parameter.name}'")
        except WindowError as exc:
            raise SpecError(str(exc)) from exc
        path_names = [p.name for p in parameters if p.location == "path"]
        closed_responses = _compile_responses(spec, operation, pointer, closed_registry)
        operations[operation_id] = OperationSpec(
            operation_id=operation_id,
            method=method,
            path=path,
            parameters=parameters,
            body=body,
            responses=_compile_responses(spec, operation, pointer),
            closed_responses=closed_responses,
            places=places,
            write=write_plan(operation_id, operation, places, path_names) if method not in READ_METHODS else None,
            raw=operation,
        )
    return Contract(document=document, operations=operations, registry=registry)


def _parameter_pointers(
    spec: Contract, item: Mapping[str, Any], operation: Mapping[str, Any], pointer: str
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
    spec: Contract, raw_parameters: Mapping[tuple[str, str], tuple[Mapping[str, Any], str]]
) -> tuple[ParameterSpec, ...]:
    compiled = []
    for (location, name), (parameter, schema_pointer) in raw_parameters.items():
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
                format=resolved.get("format"),
                example=parameter.get("example"),
            )
        )
    return tuple(compiled)


def _compile_body(spec: Contract, operation: Mapping[str, Any], pointer: str) -> BodySpec | None:
    raw = operation.get("requestBody")
    if raw is None:
        return None
    base = raw["$ref"].removeprefix("#") if "$ref" in raw else f"{pointer}/requestBody"
    body = spec.resolve(raw)
    content = body.get("content", {})
    media_types = {media_type: spec.validator(f"{base}/content/{_escape(media_type)}/schema") for media_type in content}
    limits: dict[str, int] = {}
    for media in content.values():
        for prop, prop_schema in _top_level_properties(spec, media.get("schema", {})):
            if MAX_SERIALIZED_BYTES_KEY in prop_schema:
                limits[prop] = int(prop_schema[MAX_SERIALIZED_BYTES_KEY])
    examples: dict[str, Any] = {}
    for media_type, media in content.items():
        if "example" in media:
            examples[media_type] = media["example"]
        elif media.get("examples"):
            examples[media_type] = spec.resolve(next(iter(media["examples"].values())))["value"]
    forms = {
        option["$ref"].rsplit("/", 1)[-1]: spec.validator(option["$ref"].removeprefix("#"))
        for media in content.values()
        for option in spec.resolve(media.get("schema", {})).get("oneOf", [])
        if "$ref" in option
    }
    return BodySpec(
        required=bool(body.get("required", False)),
        media_types=media_types,
        size_limits=limits,
        examples=examples,
        forms=forms,
    )


def _top_level_properties(spec: Contract, schema: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The top-level properties of a body schema, through `$ref` and the branches of oneOf/anyOf/allOf."""
    schema = spec.resolve(schema)
    for name, prop in schema.get("properties", {}).items():
        yield name, spec.resolve(prop) if MAX_SERIALIZED_BYTES_KEY not in prop else prop
    for keyword in ("oneOf", "anyOf", "allOf"):
        for part in schema.get(keyword, []):
            yield from _top_level_properties(spec, part)


def _compile_responses(
    spec: Contract, operation: Mapping[str, Any], pointer: str, registry: jsonschema_rs.Registry | None = None
) -> dict[int, Validator | None]:
    """A validator per documented status, of its first media type (the one the mock serves: an error's
    problem document before a deployment's plain JSON); with `registry`, of the closed copy."""
    compiled: dict[int, Validator | None] = {}
    for status, raw in operation.get("responses", {}).items():
        base = raw["$ref"].removeprefix("#") if "$ref" in raw else f"{pointer}/responses/{status}"
        content = spec.resolve(raw).get("content", {})
        validator = None
        if content:
            schema_pointer = f"{base}/content/{_escape(next(iter(content)))}/schema"
            validator = spec.validator(schema_pointer) if registry is None else _validator(registry, schema_pointer)
        compiled[int(status)] = validator
    return compiled


OPEN_COPY_SUFFIX = "__open"


def closed_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the spec whose response objects admit exactly their declared properties.

    The spec's response objects are open for extension (a tolerant reader); the mock must still send
    exactly what is declared. Every object schema with `properties` or `allOf` and no
    `additionalProperties` of its own gets `unevaluatedProperties: false`, except where it is a part of
    an `allOf` (there the whole, not the part, is closed): such a part refers to an open copy of its
    component (`<Name>__open`). A deployment may leave a null field out; the mock sends it, so every
    declared property whose schema admits null is required here. Only responses are validated with it.
    (Request bodies are open too: a server ignores the fields it does not know.)
    """
    import copy

    closed: dict[str, Any] = copy.deepcopy(dict(document))
    schemas: dict[str, Any] = closed.get("components", {}).get("schemas", {})
    open_copies = {f"{name}{OPEN_COPY_SUFFIX}": copy.deepcopy(schema) for name, schema in schemas.items()}

    def close(node: Any, *, part: bool = False) -> None:
        if isinstance(node, list):
            for item in node:
                close(item)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key == "allOf" and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and "$ref" in item and item["$ref"].startswith("#/components/schemas/"):
                        item["$ref"] += OPEN_COPY_SUFFIX
                    close(item, part=True)
            elif key in ("properties", "patternProperties", "$defs") and isinstance(value, dict):
                for child in value.values():
                    close(child)
            elif key not in ("example", "examples", "enum", "const", "default", "x-decisions"):
                close(value)
        nullable = [name for name, prop in node.get("properties", {}).items() if _admits_null(document, prop)]
        if nullable:
            node["required"] = [*node.get("required", []), *(n for n in nullable if n not in node.get("required", []))]
        is_object = "properties" in node or "allOf" in node
        if is_object and not part and "additionalProperties" not in node and "$ref" not in node:
            node["unevaluatedProperties"] = False

    for schema in schemas.values():
        close(schema)
    for schema in open_copies.values():
        close(schema, part=True)
    schemas.update(open_copies)
    for item in closed.get("paths", {}).values():
        close(item)
    close(closed.get("components", {}).get("responses", {}))
    return closed


def _admits_null(document: Mapping[str, Any], schema: Any) -> bool:
    declared = resolve_ref(document, schema).get("type") if isinstance(schema, Mapping) else None
    return declared == "null" or (isinstance(declared, list) and "null" in declared)


@functools.cache
def load_contract(path: Path | None = None) -> Contract:
    """Parse and compile openapi.yaml; cached, so a process compiles each spec file once."""
    path = path or default_spec_path()
    try:
        with path.open(encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise SpecError(f"cannot read the OpenAPI spec {path}: {exc}") from exc
    return compile_spec(document)
