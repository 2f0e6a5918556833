"""`leadvibe-mock --proxy UPSTREAM`: the validating proxy (mock_server.proxy.app) served like the mock.

Same port, host, CORS origins and body limits as the mock, served by granian like the mock (`serving.serve`);
kept out of cli.py (which only hands over to `serve_proxy`) so the two evolve apart. At exit it prints
the summary of the journal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from leadvibe_contract.contract import SpecError, load_contract
from mock_server.config import LOCAL_ORIGINS
from mock_server.limits import LIMITS
from mock_server.proxy.app import ValidatingProxy
from mock_server.proxy.journal import Journal, read_journal, summary
from mock_server.proxy.recording import Recorder
from mock_server.serving.listen import base_url, exit_if_busy
from mock_server.serving.server import serve

DEFAULT_JOURNAL = Path("reports/proxy-journal.jsonl")


def add_proxy_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("validating proxy (instead of the mock)")
    group.add_argument(
        "--proxy",
        metavar="UPSTREAM",
        help="forward every request to UPSTREAM (http(s)://host[:port][/base]), validate both ways against the "
        "spec, add X-Contract-Verdict to each answer",
    )
    group.add_argument(
        "--upstream-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="bound of a whole exchange with the upstream before a 504 problem (default 10)",
    )
    group.add_argument(
        "--journal",
        type=Path,
        default=DEFAULT_JOURNAL,
        metavar="FILE",
        help=f"JSON lines, one per exchange (default {DEFAULT_JOURNAL}); truncated at start",
    )
    group.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="keep every exchange in DIR (emptied at start) as a scenario the mock serves (--scenario DIR) and a "
        "replay can send again (make replay); never a credential (docs/recording.md)",
    )
    group.add_argument(
        "--keep-personal-data",
        action="store_true",
        help="with --record: keep emails, names and phone numbers as they came (default: placeholders)",
    )


def check_upstream(url: str) -> str:
    """An http(s) URL without credentials (the proxy holds none of its own), without a query or fragment."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--proxy needs an http(s) URL with a host, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("--proxy must not carry credentials: clients send their own, and they pass through")
    if parts.query or parts.fragment:
        raise ValueError("--proxy must not carry a query or a fragment")
    return url


def _proxy(
    upstream: str,
    journal: Path,
    timeout: float,
    cors_origins: Sequence[str],
    max_body_bytes: int,
    body_timeout: float,
    recorder: Recorder | None,
) -> ValidatingProxy:
    return ValidatingProxy(
        upstream,
        load_contract(),
        Journal(journal),
        timeout=timeout,
        cors_origins=cors_origins,
        max_body_bytes=max_body_bytes,
        body_timeout=body_timeout,
        recorder=recorder,
    )


def serve_proxy(args: argparse.Namespace) -> None:
    try:
        upstream = check_upstream(args.proxy)
        load_contract()  # a spec that does not load stops the proxy here, not on its first request
    except (ValueError, SpecError) as exc:
        sys.exit(f"leadvibe-mock: {exc}")
    if args.upstream_timeout <= 0:
        sys.exit("leadvibe-mock: --upstream-timeout must be positive")
    body_timeout = args.body_timeout if args.body_timeout is not None else LIMITS.request_body_timeout
    if body_timeout <= 0:
        sys.exit("leadvibe-mock: --body-timeout must be positive")
    exit_if_busy(args.host, args.port)  # before the journal is emptied: it may be another proxy's
    journal_path: Path = args.journal.resolve()
    Journal(journal_path).start()
    recorder = None
    if args.record is not None:
        recorder = Recorder(args.record.resolve(), load_contract(), upstream, keep_personal=args.keep_personal_data)
        recorder.start()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.quiet:
        print(
            f"leadvibe-mock: validating proxy to {upstream}; serving {base_url(args.host, args.port)}; "
            f"journal {journal_path}",
            flush=True,
        )
    proxy = _proxy(
        upstream,
        journal_path,
        args.upstream_timeout,
        tuple(args.cors_origin or LOCAL_ORIGINS),
        LIMITS.max_request_bytes,
        body_timeout,
        recorder,
    )
    try:
        serve(proxy, args.host, args.port, replace(LIMITS, request_body_timeout=body_timeout))
    finally:
        print(summary(read_journal(journal_path), journal_path), flush=True)
        if recorder is not None:
            print(f"leadvibe-mock --record: {recorder.finish()}", flush=True)
