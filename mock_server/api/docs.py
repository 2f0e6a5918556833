"""`/docs`: Swagger UI on the live spec, offline, with "Try it out" pointed at this mock.

Swagger UI comes from the `flask-swagger-ui` package, which vendors the Swagger UI distribution (5.x,
OpenAPI 3.1) and is current; `swagger-ui-bundle` was last released in 2023 with an older 5.x. Only its
static files are used: the page is the mock's own, so that it can pre-authorize the demo token
(`preauthorizeApiKey`) and keep a token across reloads (`persistAuthorization`). The spec it shows is
the one the mock serves (`/docs/openapi.json`), with `servers` replaced by this mock (the page's origin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_swagger_ui  # type: ignore[import-untyped]
import orjson
from flask import Blueprint, Response, current_app

from mock_server.api.state import mock_state
from mock_server.api.static_files import file_in

DIST = Path(flask_swagger_ui.__file__).with_name("dist")
DEMO_TOKEN = "kbn_pat_demo"

docs = Blueprint("mock_docs", __name__)

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>LeadVibe mock: API docs</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/docs/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: true, tryItOutEnabled: true, displayRequestDuration: true,
  onComplete: function () {
    var stored = window.localStorage.getItem("authorized");
    if (!stored || stored === "{}") { window.ui.preauthorizeApiKey("bearerAuth", "%(token)s"); }
  }
});
</script></body></html>
"""


@docs.get("/docs")
@docs.get("/docs/")
def page() -> Response:
    return Response(PAGE % {"token": DEMO_TOKEN}, mimetype="text/html")


@docs.get("/docs/static/<path:name>")
def static(name: str) -> Response:
    return file_in(DIST, name, max_age=3600)


# The mock's own request headers, offered on every operation of the page (never in openapi.yaml): so that
# "Try it out" can force a response or simulate slowness and failure. Empty fields are not sent.
MOCK_PARAMETERS = [
    {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": "Mock only: force a response, e.g. `code=404`, `example=ld_123`, `dynamic=true, seed=42`.",
        "schema": {"type": "string"},
    },
    {
        "name": "X-Mock-Delay",
        "in": "header",
        "required": False,
        "description": "Mock only: latency in ms, e.g. `300` or `100-800`.",
        "schema": {"type": "string"},
    },
    {
        "name": "X-Mock-Fail",
        "in": "header",
        "required": False,
        "description": "Mock only: a status 400-599, or drop, empty, chunk, dribble.",
        "schema": {"type": "string"},
    },
]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _with_mock_parameters(paths: dict[str, Any]) -> dict[str, Any]:
    return {
        path: {
            key: {**value, "parameters": [*value.get("parameters", []), *MOCK_PARAMETERS]} if key in METHODS else value
            for key, value in item.items()
        }
        for path, item in paths.items()
    }


@docs.get("/docs/openapi.json")
def spec() -> Response:
    document: dict[str, Any] = dict(mock_state(current_app).spec.document)
    # Relative: the page's own origin. Never built from the request's Host, which a client chooses.
    document["servers"] = [{"url": "/", "description": "this mock"}]
    document["paths"] = _with_mock_parameters(document.get("paths", {}))
    return Response(orjson.dumps(document), mimetype="application/json")  # keeps the spec's order
