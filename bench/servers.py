"""The mock's Flask app for the WSGI servers it is compared with: the very app `leadvibe-mock` serves.

gunicorn imports the factory (`gunicorn -k gthread 'bench.servers:make_app()'`); waitress runs from here:
`python -m bench.servers --port P --threads N`.
"""

from __future__ import annotations

import argparse
import logging

import waitress
from flask import Flask

from mock_server.app import create_app
from mock_server.config import MockConfig


def make_app() -> Flask:
    """The mock with the shipped seed and default settings, as `leadvibe-mock` builds it."""
    return create_app(MockConfig())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description="Serve the mock with waitress.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    # Under a benchmark's steady backlog waitress logs "Task queue depth is N" for most requests; that
    # logging would be measured as waitress's cost, so only its errors are kept.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    waitress.serve(make_app(), host=args.host, port=args.port, threads=args.threads)


if __name__ == "__main__":
    main()
