"""The Flask application factory: binds each operation of openapi.yaml to its handler.

Per request: authenticate (401), scope to the active OU, validate against the spec (400/413/415),
run the handler, render JSON. Routing errors (404/405) and every other error leave as RFC 9457
problem documents, never as HTML.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request
from flask_cors import CORS
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import BaseConverter, Map

from leadvibe_contract.contract import Contract, OperationSpec, SpecError, default_spec_path, load_contract
from mock_server.api.auth import ACTIVE_OU_COOKIE, Directory
from mock_server.api.cookies import cookie_attributes
from mock_server.api.docs import docs
from mock_server.api.handlers import Call, Handler, Reply, all_handlers
from mock_server.api.negotiation import QUERY_FORCING, QUERY_PREFIX, forced_response, parse_prefer, query_preferences
from mock_server.api.problems import PROBLEM_MEDIA_TYPE, ApiProblem, FieldError, from_domain, method_not_allowed
from mock_server.api.state import EXTENSION, MockState
from mock_server.api.validation import RequestValidator
from mock_server.config import MockConfig
from mock_server.leads import raw_json
from mock_server.leads.errors import DomainError
from mock_server.leads.seed import load_seed
from mock_server.leads.store import LeadStore, StoreLimits
from mock_server.limits import LIMITS
from mock_server.tools.admin import admin
from mock_server.tools.chaos import CHUNK, DROP, EMPTY, FAIL_KEY, failure_problem
from mock_server.tools.controls import NOTE_KEY, Controls
from mock_server.tools.scenarios import apply_scenario, scenario_seed

log = logging.getLogger("mock_server")


def _json(body: Any, status: int, media_type: str) -> Response:
    return Response(raw_json.dumps(body), status, mimetype=media_type)


def render_problem(problem: ApiProblem) -> Response:
    response = _json(problem.to_dict(), problem.status, PROBLEM_MEDIA_TYPE)
    response.headers.update(problem.headers)
    return response


def _render(reply: Reply, environ: dict[str, Any]) -> Response:
    response = _json(reply.body, reply.status, "application/json")
    response.headers.update(reply.headers)
    if reply.cookies:
        attributes = cookie_attributes(
            environ.get("HTTP_ORIGIN"), environ.get("HTTP_HOST"), environ.get("wsgi.url_scheme", "http")
        )
        for name, value in reply.cookies.items():
            response.set_cookie(name, value, httponly=True, path="/", **attributes)  # type: ignore[arg-type]
    return response


# Headers a browser script may read besides the CORS-safelisted ones: every response header the spec
# declares, and the mock's own (the forced-response answer, the failure simulation's Retry-After).
MOCK_RESPONSE_HEADERS = ("Preference-Applied", "Retry-After", "Allow", "WWW-Authenticate", "Location")


def exposed_headers(spec: Contract) -> list[str]:
    declared: dict[str, str] = {}
    for operation in spec.operations.values():
        for response in operation.raw.get("responses", {}).values():
            for name in spec.resolve(response).get("headers", {}):
                declared.setdefault(name.lower(), name)
    declared.pop("set-cookie", None)  # a browser never lets a script read it
    for name in MOCK_RESPONSE_HEADERS:
        declared.setdefault(name.lower(), name)
    return sorted(declared.values())


class ResponseViolation(AssertionError):
    """The mock was about to send a response openapi.yaml does not allow (checked when validating responses)."""


def _check_response(operation: OperationSpec, reply: Reply) -> None:
    """The reply against the closed copy of its response schema: exactly the declared fields."""
    validator = operation.closed_responses.get(reply.status)
    if reply.status not in operation.responses:
        raise ResponseViolation(f"{operation.label}: status {reply.status} is not in openapi.yaml")
    if validator is not None:
        errors = [
            f"{error.message} at /{'/'.join(map(str, error.instance_path))}"
            for error in validator.iter_errors(raw_json.parsed(reply.body))
        ]
        if errors:
            raise ResponseViolation(f"{operation.label} {reply.status} violates openapi.yaml: {errors[0]}")


def raw_cookies(header: str) -> dict[str, str]:
    """Cookies as sent: a value a cookie parser would drop (quotes, spaces ...) must still be judged (a 400)."""
    found: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name == ACTIVE_OU_COOKIE:
            found[name] = value.strip()
    return found


def _accepts_basic(spec: Contract, operation: OperationSpec) -> bool:
    """The operation's security requirements (or the document's) include HTTP Basic."""
    schemes = spec.document.get("components", {}).get("securitySchemes", {})
    requirements = operation.raw.get("security", spec.document.get("security", []))
    return any(schemes.get(name, {}).get("scheme") == "basic" for requirement in requirements for name in requirement)


def _view(state: MockState, operation: OperationSpec, handler: Handler) -> Any:
    takes_query = any(parameter.location == "query" for parameter in operation.parameters)
    # An operation that declares the activeOu cookie works on lead data, so it needs an active OU.
    needs_ou = any(p.location == "cookie" and p.name == ACTIVE_OU_COOKIE for p in operation.parameters)
    basic = _accepts_basic(state.spec, operation)

    def view(**path: str) -> Response:
        environ = request.environ
        principal = state.directory.authenticate(environ.get("HTTP_AUTHORIZATION"), basic=basic)
        # Parsing cookies and the query string costs time on every request: only when there are any.
        cookies = raw_cookies(environ["HTTP_COOKIE"]) if "HTTP_COOKIE" in environ else {}
        query = request.args.to_dict(flat=False) if takes_query and environ.get("QUERY_STRING") else {}
        wanted = environ.get("HTTP_PREFER", "")
        if QUERY_PREFIX in environ.get("QUERY_STRING", ""):  # Prism's ?__code=404: not the API's parameters
            wanted = ", ".join(filter(None, (wanted, query_preferences(request.args.to_dict(flat=False)))))
            query = {name: values for name, values in query.items() if name not in QUERY_FORCING}
        body = request.get_data(cache=False) if operation.body is not None else b""
        valid = state.validator.validate(
            operation, path, query, environ.get("CONTENT_TYPE"), body, cookies, environ.get("QUERY_STRING", "")
        )
        if wanted:
            prefer = parse_prefer(wanted)
            if prefer.any:
                forced = forced_response(state.spec, operation, prefer)
                environ[NOTE_KEY] = f"forced: {prefer.applied()}"
                response = _json(forced.body, forced.status, forced.media_type)
                response.headers.update(forced.headers)
                return response
        scope = principal.scope(cookies.get(ACTIVE_OU_COOKIE)) if needs_ou else principal.unscoped(cookies)
        reply = handler(Call(principal, scope, valid, state.store, state.directory))
        if state.config.validate_responses:
            _check_response(operation, reply)
        return _render(reply, environ)

    view.__name__ = operation.operation_id
    return view


def _http_problem(error: HTTPException) -> ApiProblem:
    status = error.code or 500
    if isinstance(error, MethodNotAllowed):
        return method_not_allowed(request.method, list(error.valid_methods or []))
    if status == 404:
        return ApiProblem(404, "not-found", f"No operation of the lead API at {request.path}.")
    if status == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return ApiProblem(413, "payload-too-large", f"The request body is over the size limit of {limit} bytes.")
    if status == 400:
        detail = error.description or "The request could not be read."
        return ApiProblem(400, "validation-error", detail, errors=[FieldError("body", "", detail)])
    return ApiProblem(status, error.name.lower().replace(" ", "-"), error.description or error.name)


def _simulated_failure() -> Response | None:
    """A failure chosen by the serving layer (`chaos.py`): answered here, so CORS headers are added. For
    a drop, a stand-in 200 that changes nothing, which the serving layer cuts short."""
    failure = request.environ.get(FAIL_KEY)
    if failure is None:
        return None
    if isinstance(failure, ApiProblem):
        raise failure
    if failure in (DROP, EMPTY, CHUNK):
        return _json(
            {"detail": "This answer is cut short by the mock (a simulated dropped connection)."},
            200,
            "application/json",
        )
    request.environ[NOTE_KEY] = f"simulated: {failure}"
    raise failure_problem(failure)


def _register_errors(app: Flask) -> None:
    app.register_error_handler(ApiProblem, render_problem)
    app.register_error_handler(DomainError, lambda error: render_problem(from_domain(error)))
    app.register_error_handler(HTTPException, lambda error: render_problem(_http_problem(error)))

    def internal_error(error: Exception) -> Response:
        if isinstance(error, ResponseViolation) and current_app.testing:
            raise error  # a test sees the violation itself, not a generic 500
        log.exception("unhandled error on %s %r", request.method, request.path)
        return render_problem(ApiProblem(500, "internal-error", "The mock hit an internal error."))

    app.register_error_handler(Exception, internal_error)


class SegmentExcept(BaseConverter):
    """A path segment other than the given static ones: `/lead/{leadID}` must not swallow `/lead/by-alias`."""

    def __init__(self, url_map: Map, *excluded: str) -> None:
        super().__init__(url_map)
        self.regex = "".join(f"(?!{re.escape(word)}$)" for word in excluded) + "[^/]+"


def flask_rules(spec: Contract) -> dict[str, str]:
    """Each operation's Flask rule; a template segment excludes the static segments beside it in the spec."""
    static: dict[tuple[str, ...], set[str]] = defaultdict(set)
    split = {op_id: op.path.strip("/").split("/") for op_id, op in spec.operations.items()}
    for segments in split.values():
        for index, segment in enumerate(segments):
            if not segment.startswith("{"):
                static[tuple(segments[:index])].add(segment)
    rules = {}
    for operation_id, segments in split.items():
        parts = []
        for index, segment in enumerate(segments):
            if segment.startswith("{"):
                excluded = sorted(static.get(tuple(segments[:index]), ()))
                converter = f"except({', '.join(repr(word) for word in excluded)}):" if excluded else ""
                parts.append(f"<{converter}{segment[1:-1]}>")
            else:
                parts.append(segment)
        rules[operation_id] = "/" + "/".join(parts)
    return rules


def create_app(
    config: MockConfig | None = None, *, controls: Controls | None = None, store: LeadStore | None = None
) -> Flask:
    """A fresh mock: spec compiled, seed loaded, every operation bound to its handler.

    `controls` and `store` are handed over when the app is rebuilt after an edit of openapi.yaml
    (`reload.py`), so that the leads, the failure rules and the journal survive it.
    """
    config = config or MockConfig()
    controls = controls or Controls()
    spec_path = config.spec_path or default_spec_path()
    try:
        source = spec_path.read_bytes()  # read before it is parsed: never newer than what is served
    except OSError as exc:
        raise SpecError(f"cannot read the OpenAPI spec {spec_path}: {exc}") from exc
    spec = load_contract(config.spec_path)
    seed = scenario_seed(controls.scenario, load_seed(config.seed_path, spec))
    if store is None:
        store = config.store_class(
            seed, StoreLimits.from_spec(spec), clock=config.clock, deletion_delay=config.deletion_delay
        )
        apply_scenario(controls.scenario, store)
    else:
        store.set_limits(StoreLimits.from_spec(spec))
    state = MockState(config, spec, RequestValidator(spec, config.clock), store, Directory(seed), controls, source)

    handlers = all_handlers()
    missing = set(spec.operations) - set(handlers)
    extra = set(handlers) - set(spec.operations)
    if missing or extra:
        raise SpecError(f"handlers and openapi.yaml disagree: no handler for {missing}, no operation for {extra}")

    app = Flask(__name__)
    app.url_map.converters["except"] = SegmentExcept
    # No redirects: Werkzeug would answer `/lead//ld_123` or a trailing slash with a 308, an HTML body
    # and a Location built from the client's Host header. Every such path is a 404 problem instead.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.url_map.redirect_defaults = False
    app.config["MAX_CONTENT_LENGTH"] = LIMITS.max_request_bytes
    app.extensions[EXTENSION] = state
    rules = flask_rules(spec)
    for operation in spec.operations.values():
        app.add_url_rule(
            rules[operation.operation_id],
            endpoint=operation.operation_id,
            view_func=_view(state, operation, handlers[operation.operation_id]),
            methods=[operation.method.upper()],
        )
    if config.admin_endpoints:
        app.register_blueprint(admin)
        app.register_blueprint(docs)
    app.before_request(_simulated_failure)
    _register_errors(app)
    controls.route = _router(app)
    CORS(
        app,
        origins=list(config.cors_origins),
        supports_credentials=True,
        # Any request header a front end sends (Prefer, X-Request-Id, tracing, X-Mock-*): the preflight
        # echoes what it is asked for. Exposed: what a script needs to read (WWW-Authenticate, Allow ...).
        allow_headers="*",
        expose_headers=exposed_headers(spec),
        max_age=600,
    )
    _only_for_cross_origin_requests(app)
    _errors_are_problem_documents(app)
    app.after_request(_no_content_no_type)
    return app


def _no_content_no_type(response: Response) -> Response:
    """A 204 has no body, so no media type (Flask gives every response one, text/html by default)."""
    if response.status_code == 204:
        response.headers.pop("Content-Type", None)
    return response


def _router(app: Flask) -> Callable[[str, str], str | None]:
    """(method, path) -> operationId, for the per-operation failure rules of the serving layer."""
    adapter = app.url_map.bind("mock")

    def route(method: str, path: str) -> str | None:
        try:
            endpoint, _ = adapter.match(path, method)
        except HTTPException:
            return None
        return str(endpoint)

    return route


def _errors_are_problem_documents(app: Flask) -> None:
    """Every 4xx and 5xx the mock sends is a problem document, also one a library makes on its own (as
    Werkzeug's 412 for a failed `If-Match` was). Registered after flask-cors, so it runs before it: the
    problem gets the CORS headers."""

    @app.after_request
    def problem_only(response: Response) -> Response:
        if response.status_code < 400 or response.mimetype == PROBLEM_MEDIA_TYPE:
            return response
        log.warning("%s %r: a %d that was not a problem document", request.method, request.path, response.status_code)
        status = response.status_code
        slug = ApiProblem(status, "", "").title.lower().replace(" ", "-")
        return render_problem(ApiProblem(status, slug, f"The request could not be answered ({status})."))


def _only_for_cross_origin_requests(app: Flask) -> None:
    """flask-cors evaluates its rules after every request; only a request with an Origin needs them.

    Measured gain (wrk, 8 connections, median of 3 runs of 6 s on the 2-core VM, 2026-12-02): GET /leads
    6,285 req/s with it, 5,674 without (+11 %); GET /lead/ld_123 7,441 vs 7,176 (+4 %).
    `Vary: Origin` keeps caches from mixing the two kinds of response.
    """
    after = app.after_request_funcs.setdefault(None, [])
    wrapped: list[Any] = []
    for function in after:
        if getattr(function, "__module__", "").startswith("flask_cors"):

            def cors_when_origin(response: Response, apply: Any = function) -> Response:
                if "HTTP_ORIGIN" in request.environ:
                    return apply(response)  # type: ignore[no-any-return]
                response.headers["Vary"] = "Origin"
                return response

            wrapped.append(cors_when_origin)
        else:
            wrapped.append(function)
    if len(wrapped) == len(after) and any(f is not g for f, g in zip(after, wrapped, strict=True)):
        app.after_request_funcs[None] = wrapped
    else:
        raise RuntimeError("flask-cors did not register its after_request function")
