"""Mock-only endpoints, outside the contract and without auth: health, reset to the seed, the spec."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, send_file

from leadvibe_contract.contract import default_spec_path
from mock_server.problems import ApiProblem
from mock_server.seed import SeedError, load_seed
from mock_server.state import mock_state

admin = Blueprint("mock_admin", __name__)


@admin.get("/_mock/health")
def health() -> Response:
    return jsonify(status="ok", leads=mock_state(current_app).store.lead_count())


@admin.post("/_mock/reset")
def reset() -> Response:
    """Back to the seed, re-read from disk if it changed; a broken seed file leaves the state as it was."""
    state = mock_state(current_app)
    try:
        seed = load_seed(state.config.seed_path, state.spec)
    except SeedError as exc:
        raise ApiProblem(400, "invalid-seed", f"{exc}; the state was not reset.") from exc
    state.directory.load(seed)
    state.store.reset(seed)
    return Response(status=204)


@admin.get("/openapi.yaml")
def openapi() -> Response:
    path = mock_state(current_app).config.spec_path or default_spec_path()
    return send_file(path, mimetype="application/yaml")
