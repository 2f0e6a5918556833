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

from mock_server.state import mock_state
from mock_server.static_files import file_in

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


@docs.get("/docs/openapi.json")
def spec() -> Response:
    document: dict[str, Any] = dict(mock_state(current_app).spec.document)
    # Relative: the page's own origin. Never built from the request's Host, which a client chooses.
    document["servers"] = [{"url": "/", "description": "this mock"}]
    return Response(orjson.dumps(document), mimetype="application/json")  # keeps the spec's order
