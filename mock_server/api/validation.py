"""Is the request valid? Parameters and bodies checked against the operation's schemas in openapi.yaml.

Query strings are coerced to the declared type first (with OpenAPI 3.1 / JSON Schema 2020-12, `29.0`
is an integer; a `date-time` becomes an aware datetime). Every offending field is reported at once, in
the spec's 400 problem format.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from jsonschema_rs import ValidationError, Validator

from leadvibe_contract.contract import Contract, OperationSpec, ParameterSpec
from mock_server.api.json_body import BodyRefused, TooManyValues, encodable, read_json
from mock_server.api.problems import (
    FieldError,
    payload_too_large,
    unsupported_media_type,
    validation_error,
)
from mock_server.leads.timeutil import Clock, parse_timestamp
from mock_server.limits import LIMITS

# ASCII digits only, the whole text: `\d`, `int()` and `float()` also take fullwidth digits (U+FF11),
# `float()` underscores and surrounding white space, and `$` a trailing newline.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Errors listed per value. jsonschema-rs computes every error of a value at once, each carrying a copy of
# the value it is about (3,000 bad metadata keys: 7.8 s and 2 GB), so a value of more than
# _FULL_REPORT_VALUES values gets its first error only (found with `validate`, which stops there).
MAX_ERRORS = 20
_FULL_REPORT_VALUES = 256


@dataclass(frozen=True)
class ValidRequest:
    """A request that passed validation: typed parameters (defaults filled in) and the parsed body.

    A `date-time` parameter is an aware datetime in UTC.
    """

    path: Mapping[str, Any]
    query: Mapping[str, Any]
    body: Any
    given: frozenset[str] = frozenset()  # the query parameters the client actually sent
    form: str | None = None  # which alternative of a `oneOf` body it is (BodySpec.forms)


def undecodable_query(query_string: str) -> list[FieldError]:
    """Query parameters whose percent-escapes are not UTF-8. Werkzeug keeps such a value as its literal
    text, which every string schema without a pattern would accept as if the client had sent it."""
    found = []
    for pair in query_string.split("&") if "%" in query_string else ():
        name, _, value = pair.partition("=")
        try:
            unquote_to_bytes(value.replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            found.append(FieldError("query", unquote(name, errors="replace"), "is not valid UTF-8"))
    return found


def _coerce(raw: str, json_type: str | None) -> Any:
    if json_type not in ("integer", "number"):
        return raw
    try:
        if _INTEGER.fullmatch(raw):
            return int(raw)
        if not _NUMBER.fullmatch(raw):
            return raw
        number = float(raw)
    except ValueError:  # an integer of more than 4,300 digits
        return raw
    if not math.isfinite(number):
        return raw
    if json_type == "integer" and number.is_integer():
        return int(number)
    return number


def _pointer(parts: Sequence[Any]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _forms(spec: Contract, error: ValidationError) -> list[tuple[str, tuple[str, ...]]] | None:
    """The alternatives of a oneOf/anyOf as (schema pointer, the required names that tell it apart)."""
    options = spec.at(error.schema_path)
    pointer = "/" + "/".join(str(part) for part in error.schema_path)
    forms = []
    for index, option in enumerate(options):
        where = option["$ref"].removeprefix("#") if "$ref" in option else f"{pointer}/{index}"
        forms.append((where, tuple(spec.resolve(option).get("required", []))))
    common = set.intersection(*(set(names) for _, names in forms)) if forms else set()
    distinct = [(where, tuple(n for n in names if n not in common)) for where, names in forms]
    return distinct if distinct and all(names for _, names in distinct) else None


def _alternatives(spec: Contract, error: ValidationError, instance: Any) -> tuple[str, str | None]:
    """A readable message for oneOf/anyOf over forms told apart by required names (aliases, lead_id,
    the deprecated alias): when the value has exactly one form's names, that form's pointer to explain."""
    forms = _forms(spec, error)
    if forms is None:
        return error.message, None
    present = [where for where, names in forms if isinstance(instance, dict) and all(n in instance for n in names)]
    if len(present) == 1 and not any(
        name in instance for where, names in forms if where != present[0] for name in names
    ):
        return error.message, present[0]
    quoted = ", ".join(" and ".join(f"'{name}'" for name in names) for _, names in forms)
    quoted = " or ".join(quoted.rsplit(", ", 1))
    return (f"send exactly one of {quoted}" if error.kind.name == "oneOf" else f"send {quoted}"), None


@functools.cache
def _own_names(spec: Contract, forms: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Per form of a oneOf body, the required names no other form has (read from the spec once)."""
    required = {name: frozenset(spec.schema(name).get("required", [])) for name in forms}
    common = frozenset.intersection(*required.values())
    return {name: names - common for name, names in required.items()}


def _form_of(spec: Contract, forms: Mapping[str, Validator], body: Any) -> Validator | None:
    """The one form of a oneOf body whose own required names the body has, and no other form's: judged alone,
    a large body costs one form's first error, not every alternative's errors (jsonschema-rs collects them
    all for a oneOf: 30,000 bad aliases cost 1.5 s and 74 MB)."""
    if not isinstance(body, dict):
        return None
    own = _own_names(spec, tuple(forms))
    present = [name for name, names in own.items() if names and names <= body.keys()]
    if len(present) != 1 or any(body.keys() & names for name, names in own.items() if name != present[0]):
        return None
    return forms[present[0]]


def _at(instance: Any, path: Sequence[Any]) -> Any:
    for part in path:
        instance = instance[part]
    return instance


def _message(error: ValidationError) -> str:
    """jsonschema-rs quotes the whole value in its message; for a large value, name the keyword instead."""
    if len(error.message) <= 200:
        return error.message
    kind: Any = error.kind
    limit = getattr(kind, "limit", None)
    return f"does not satisfy '{kind.name}'" + (f" (limit {limit})" if limit is not None else "")


def _schema_errors(validator: Validator, instance: Any, values: int) -> Iterable[ValidationError]:
    """The schema errors of a value, at a cost bounded by its size: nothing more once it is valid."""
    if validator.is_valid(instance):
        return []
    if values > _FULL_REPORT_VALUES:
        try:
            validator.validate(instance)
        except ValidationError as error:
            return [error]
        return []
    return itertools.islice(validator.iter_errors(instance), MAX_ERRORS)


def _errors(
    spec: Contract, validator: Validator, instance: Any, location: str, name: str | None, values: int = 1
) -> Iterator[FieldError]:
    """FieldErrors of one value; `name` is a parameter's name, or None for a body (JSON Pointers)."""
    for error in _schema_errors(validator, instance, values):
        where = _pointer(error.instance_path)
        kind: Any = error.kind  # its attributes depend on the keyword
        if kind.name == "additionalProperties":
            for extra in kind.unexpected:
                yield FieldError(location, name or f"{where}/{extra}", f"'{extra}' is unknown or read-only")
        elif kind.name == "required":
            yield FieldError(location, name or f"{where}/{kind.property}", f"'{kind.property}' is required")
        elif kind.name in ("oneOf", "anyOf"):
            message, form = _alternatives(spec, error, _at(instance, error.instance_path))
            if form is None:
                yield FieldError(location, name or where, message)
            else:  # the value has one form's fields: what is wrong within that form
                value = _at(instance, error.instance_path)  # as large as the whole: its first error only, then
                for inner in _errors(spec, spec.validator(form), value, location, name, values):
                    yield FieldError(inner.location, inner.name if name else where + inner.name, inner.detail)
        else:
            yield FieldError(location, name or where, _message(error))


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def compact_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class RequestValidator:
    """Validates requests of every operation; built once per app from the compiled spec."""

    def __init__(self, spec: Contract, clock: Clock) -> None:
        self._spec = spec
        self._clock = clock
        self._max_depth = LIMITS.max_json_depth

    def validate(
        self,
        operation: OperationSpec,
        path: Mapping[str, str],
        query: Mapping[str, Sequence[str]],
        content_type: str | None,
        body: bytes,
        cookies: Mapping[str, str] | None = None,
        query_string: str = "",
    ) -> ValidRequest:
        errors: list[FieldError] = undecodable_query(query_string)
        values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "cookie": {}}
        for parameter in operation.parameters:
            if parameter.location == "path":
                raw_values: Sequence[str] = [path[parameter.name]] if parameter.name in path else []
            elif parameter.location == "query":
                raw_values = query.get(parameter.name, [])
            elif parameter.location == "cookie":
                raw_values = [cookies[parameter.name]] if cookies and parameter.name in cookies else []
            else:
                continue
            errors += self._parameter(parameter, raw_values, values[parameter.location])
        parsed = self._body(operation, content_type, body, errors)
        if errors:
            raise validation_error(errors)
        forms = operation.body.forms if operation.body is not None else {}
        form = next((name for name, validator in forms.items() if validator.is_valid(parsed)), None)
        return ValidRequest(values["path"], values["query"], parsed, frozenset(query), form)

    def _parameter(self, parameter: ParameterSpec, raw_values: Sequence[str], into: dict[str, Any]) -> list[FieldError]:
        if not raw_values:
            if parameter.required:
                return [FieldError(parameter.location, parameter.name, f"'{parameter.name}' is required")]
            if "default" in parameter.schema:
                into[parameter.name] = parameter.default
            return []
        if len(raw_values) > 1:
            return [FieldError(parameter.location, parameter.name, "must be given once")]
        if not encodable(raw_values[0]):
            return [FieldError(parameter.location, parameter.name, "is not valid Unicode (it holds a lone surrogate)")]
        value = _coerce(raw_values[0], parameter.json_type)
        found = list(_errors(self._spec, parameter.validator, value, parameter.location, parameter.name))
        if not found:
            into[parameter.name] = parse_timestamp(value) if parameter.format == "date-time" else value
        return found

    def _body(self, operation: OperationSpec, content_type: str | None, raw: bytes, errors: list[FieldError]) -> Any:
        spec = operation.body
        if spec is None:
            return None
        media_type = _media_type(content_type)
        accepted = ", ".join(spec.media_types)
        if not raw:
            if media_type is not None and media_type not in spec.media_types:
                raise unsupported_media_type(f"Content-Type '{media_type}' is not supported; send {accepted}.")
            if spec.required:
                errors.append(FieldError("body", "", f"a request body ({accepted}) is required"))
            return None
        if media_type is None or media_type not in spec.media_types:
            shown = media_type or "(none)"
            raise unsupported_media_type(f"Content-Type '{shown}' is not supported; send {accepted}.")
        try:
            parsed, shape = read_json(raw, self._max_depth, LIMITS.max_json_values)
        except TooManyValues as refused:
            raise payload_too_large(refused.detail.capitalize() + ".") from None
        except BodyRefused as refused:
            errors.append(FieldError("body", refused.pointer, refused.detail))
            return None
        self._check_sizes(operation, parsed)  # before the schema's walk: a value over its size costs no more
        validator = spec.media_types[media_type]
        if shape.values > _FULL_REPORT_VALUES and spec.forms:  # a large body: its one form, not every alternative
            validator = _form_of(self._spec, spec.forms, parsed) or validator
        errors += _errors(self._spec, validator, parsed, "body", None, shape.values)
        return parsed

    def _check_sizes(self, operation: OperationSpec, body: Any) -> None:
        if not isinstance(body, dict):
            return
        limits = operation.body.size_limits if operation.body is not None else {}
        for prop, limit in limits.items():
            if prop in body and (size := compact_size(body[prop])) > limit:
                raise payload_too_large(f"'{prop}' is {size} bytes as compact JSON; at most {limit} are allowed.")
