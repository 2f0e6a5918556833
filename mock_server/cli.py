"""`leadvibe-mock` (also `python -m mock_server`): serve the mock under granian, one worker process.

One worker, because the state is in memory. granian does the HTTP work in Rust; it was chosen over
waitress and gunicorn by measurement (README, Performance; `make bench`). The Flask app is served over
granian's RSGI interface through `mock_server.serving`, which awaits request bodies with a deadline and a
size cap, so that a slow or stalled client never holds the one Python thread (README, Limits and abuse).
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from datetime import timedelta
from pathlib import Path

from flask import Flask
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

from leadvibe_contract.contract import SpecError
from mock_server.app import create_app
from mock_server.config import LOCAL_ORIGINS, MockConfig
from mock_server.proxy_cli import add_proxy_arguments, serve_proxy  # the validating proxy (issue #12)
from mock_server.seed import DEFAULT_SEED, SeedError
from mock_server.serving import BoundedBodyRSGI
from mock_server.state import mock_state


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadvibe-mock",
        description="A stateful mock of the LeadVibe lead API, driven by openapi.yaml.",
        epilog="Demo tokens: kbn_pat_demo (org_456: unit_default, unit_emea), kbn_pat_demo_emea (org_456: "
        "unit_emea), kbn_pat_other (org_789). Mock-only endpoints: GET /_mock/health, POST /_mock/reset, "
        "GET /openapi.yaml.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4010, help="port to listen on (default 4010)")
    parser.add_argument(
        "--seed",
        type=Path,
        default=DEFAULT_SEED,
        metavar="FILE",
        help="seed file (YAML or JSON) loaded at start and on reset (default: the shipped demo seed)",
    )
    parser.add_argument(
        "--deletion-delay",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long a deletion stays 'pending' before it is 'completed' (default 5; 0 completes at once)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="an allowed CORS origin (exact, or a regular expression); repeat for more "
        "(default: any http(s)://localhost, 127.0.0.1 or [::1] port)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long a request body may take to arrive before a 408 (default: the spec's "
        "info.x-request-body-timeout-seconds)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the start-up banner")
    add_proxy_arguments(parser)  # issue #12: --proxy UPSTREAM serves the validating proxy instead
    return parser


_APP: Flask | None = None


def _worker_app(config: MockConfig, max_body_bytes: int, body_timeout: float) -> BoundedBodyRSGI:
    """The app of granian's worker: inherited from the parent when forked, else built anew (spawn)."""
    app = _APP if _APP is not None else create_app(config)
    return BoundedBodyRSGI(app, max_body_bytes=max_body_bytes, body_timeout=body_timeout)


def main(argv: list[str] | None = None) -> None:
    global _APP  # noqa: PLW0603 -- built once in the parent, so a bad seed fails before serving
    args = build_parser().parse_args(argv)
    if args.proxy is not None:  # issue #12: the validating proxy instead of the mock (mock_server/proxy_cli.py)
        serve_proxy(args)
        return
    if args.deletion_delay < 0:
        sys.exit("leadvibe-mock: --deletion-delay must not be negative")
    config = MockConfig(
        seed_path=args.seed,
        deletion_delay=timedelta(seconds=args.deletion_delay),
        cors_origins=tuple(args.cors_origin or LOCAL_ORIGINS),
    )
    try:
        app = _APP = create_app(config)
    except (SeedError, SpecError) as exc:
        sys.exit(f"leadvibe-mock: {exc}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.quiet:
        leads = mock_state(app).store.lead_count()
        print(
            f"leadvibe-mock: {leads} leads from {args.seed}; serving http://{args.host}:{args.port}\n"
            f"  try: curl -H 'Authorization: Bearer kbn_pat_demo' http://{args.host}:{args.port}/lead/ld_123",
            flush=True,
        )
    state = mock_state(app)
    body_timeout = args.body_timeout if args.body_timeout is not None else state.spec.request_body_timeout
    if body_timeout <= 0:
        sys.exit("leadvibe-mock: --body-timeout must be positive")
    server = Server(
        target="mock_server",
        address=args.host,
        port=args.port,
        interface=Interfaces.RSGI,
        workers=1,
        websockets=False,
        log_level=LogLevels.warning,
    )
    loader = functools.partial(_worker_app, config, state.spec.max_request_bytes, body_timeout)
    server.serve(target_loader=loader, wrap_loader=False)
