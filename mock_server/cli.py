"""`leadvibe-mock` (also `python -m mock_server`): serve the mock under granian, in this one process.

One process, because the state is in memory. granian's embeddable server (hyper, on uvloop) does the HTTP
work through its documented options only; it was chosen over uvicorn by measurement (docs/measurements.md,
Why granian). The Flask app is served through `mock_server.serving.server`, which awaits request bodies with a
deadline and a size cap, so that a slow or stalled client never holds the one Python thread.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from leadvibe_contract.contract import SpecError
from mock_server.api.app import create_app
from mock_server.api.state import mock_state
from mock_server.config import LOCAL_ORIGINS, MockConfig
from mock_server.leads.seed import DEFAULT_SEED, SeedError
from mock_server.limits import LIMITS, describe
from mock_server.proxy.cli import add_proxy_arguments, serve_proxy  # the validating proxy (issue #12)
from mock_server.proxy.recording import recording_seed
from mock_server.serving.listen import LOOPBACK_NAMES, LoopbackForwarder, base_url, exit_if_busy
from mock_server.serving.server import BoundedBodyApp, serve
from mock_server.tools.chaos import Chaos, ChaosError, Rule
from mock_server.tools.controls import Controls
from mock_server.tools.journal import Journal
from mock_server.tools.reload import Reloader
from mock_server.tools.scenarios import SCENARIOS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadvibe-mock",
        description="A stateful mock of the LeadVibe lead API, driven by openapi.yaml.",
        epilog="Demo tokens: kbn_pat_demo (org_456: unit_default, unit_emea), kbn_pat_demo_emea (org_456: "
        "unit_emea), kbn_pat_other (org_789). Docs: /docs. Mock-only endpoints: /_mock/health, /_mock/reset, "
        "/_mock/scenarios, /_mock/scenario, /_mock/chaos, /_mock/requests, /openapi.yaml (docs/mock.md).\n\n"
        + describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        "--spec",
        type=Path,
        default=None,
        metavar="FILE",
        help="the OpenAPI document to serve (default: the project's openapi.yaml); reloaded when it changes",
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
        help="how long a request body may take to arrive before a 408, and a request head before the "
        "connection is closed (default: request_body_timeout of mock_server.limits)",
    )
    parser.add_argument(
        "--scenario",
        default="demo",
        metavar="NAME|DIR",
        help=f"the named state to start in ({', '.join(SCENARIOS)}; default demo), or a folder recorded with "
        "--proxy URL --record DIR, whose seed then replaces --seed (docs/recording.md)",
    )
    parser.add_argument(
        "--delay",
        default="0",
        metavar="MS",
        help="latency of every response: milliseconds ('300') or a random range ('100-800'); default 0",
    )
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, metavar="RATE", help="share of requests that fail, 0-1 (default 0)"
    )
    parser.add_argument(
        "--fail-with",
        default=",".join(map(str, Rule().fail_with)),
        metavar="LIST",
        help="the failures to choose from: statuses 400-599 and/or 'drop' (default 500,503)",
    )
    parser.add_argument("--no-reload", action="store_true", help="do not reload when openapi.yaml or the seed changes")
    parser.add_argument("--quiet", action="store_true", help="print neither the banner nor a line per request")
    add_proxy_arguments(parser)  # issue #12: --proxy UPSTREAM serves the validating proxy instead
    return parser


def _global_rule(args: argparse.Namespace) -> Rule:
    try:
        return Rule.from_json(
            {"delay": args.delay, "fail_rate": args.fail_rate, "fail_with": args.fail_with.split(",")}
        )
    except ChaosError as exc:
        sys.exit(f"leadvibe-mock: {exc}")


def banner(base: str, leads: int, seed: Path, scenario: str, also: str | None, chaos: Rule) -> str:
    """Where everything is: the docs, the admin API, the demo tokens; the start-up chaos in force."""
    more = f" (and {also})" if also else ""
    return (
        f"leadvibe-mock: {leads} leads from {seed}, scenario '{scenario}'; serving {base}{more}\n"
        f"  docs (Swagger UI, Try it out):  {base}/docs\n"
        f"  demo tokens:  Bearer kbn_pat_demo (org_456: unit_default, unit_emea), kbn_pat_demo_emea, "
        f"kbn_pat_other (org_789); Basic lv_ci_demo:lv_cs_demo\n"
        f"  admin API:  {base}/_mock/health | reset | scenarios | scenario | chaos | requests  (docs/mock.md)\n"
        f"  force a response:  -H 'Prefer: code=404'   slow/fail one request:  -H 'X-Mock-Delay: 300' "
        f"-H 'X-Mock-Fail: 503'\n"
        f"  try:  curl -H 'Authorization: Bearer kbn_pat_demo' {base}/lead/ld_123"
        + (f"\n  CHAOS IN FORCE for every request (--delay/--fail-rate):  {chaos.describe()}" if chaos.active else "")
    )


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.proxy is not None:  # issue #12: the validating proxy instead of the mock (mock_server/proxy/cli.py)
        serve_proxy(args)
        return
    if args.scenario not in SCENARIOS:  # a recording: its seed, as it is
        try:
            args.seed, args.scenario = recording_seed(Path(args.scenario)), "demo"
        except ValueError as exc:
            sys.exit(f"leadvibe-mock: --scenario: not one of {', '.join(SCENARIOS)}; {exc}")
    if args.deletion_delay < 0:
        sys.exit("leadvibe-mock: --deletion-delay must not be negative")
    config = MockConfig(
        spec_path=args.spec,
        seed_path=args.seed,
        deletion_delay=timedelta(seconds=args.deletion_delay),
        cors_origins=tuple(args.cors_origin or LOCAL_ORIGINS),
    )
    controls = Controls(chaos=Chaos(rule=_global_rule(args)), journal=Journal(quiet=args.quiet), scenario=args.scenario)
    try:
        app = create_app(config, controls=controls)
    except (SeedError, SpecError) as exc:
        sys.exit(f"leadvibe-mock: {exc}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    state = mock_state(app)
    body_timeout = args.body_timeout if args.body_timeout is not None else LIMITS.request_body_timeout
    if body_timeout <= 0:
        sys.exit("leadvibe-mock: --body-timeout must be positive")
    exit_if_busy(args.host, args.port)
    also = None
    if args.host in LOOPBACK_NAMES:
        forwarder = LoopbackForwarder(args.port)
        if forwarder.start():
            also = f"http://[::1]:{args.port}"
        else:
            print(
                f"leadvibe-mock: not serving IPv6 [::1]:{args.port} ({forwarder.error}); a client that resolves "
                f"localhost to ::1 must use http://127.0.0.1:{args.port}",
                file=sys.stderr,
                flush=True,
            )
    if not args.quiet:
        print(
            banner(
                base_url(args.host, args.port),
                state.store.lead_count(),
                args.seed,
                args.scenario,
                also,
                controls.chaos.rule,
            ),
            flush=True,
        )
    server = BoundedBodyApp(app, max_body_bytes=LIMITS.max_request_bytes, body_timeout=body_timeout, controls=controls)
    on_start = [] if args.no_reload else [Reloader(server, config).start]
    serve(server, args.host, args.port, replace(LIMITS, request_body_timeout=body_timeout), on_start)
