"""The servers the benchmark starts, as `Launch` recipes: the shipped CLI, Prism, waitress, gunicorn."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.calls import AUTH_HEADERS, GET_LEAD
from bench.layout import SPEC_PATH
from bench.processes import Launch

PRISM = "Prism"

# The venv's console scripts sit beside its python (not resolved: a venv's python is a symlink).
_BIN = Path(sys.executable).parent
# Loading 100,000 leads takes minutes on a busy 2-core machine.
LARGE_SEED_TIMEOUT_S = 300.0


def mock_cli(name: str, threads: int = 1, seed: Path | None = None) -> Launch:
    """`leadvibe-mock` as users run it (granian, one worker)."""

    def command(port: int) -> list[str]:
        argv = [
            str(_BIN / "leadvibe-mock"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--threads",
            str(threads),
        ]
        return [*argv, "--quiet", *(["--seed", str(seed)] if seed is not None else [])]

    return Launch(name, command, ready_timeout_s=60.0 if seed is None else LARGE_SEED_TIMEOUT_S)


def prism(executable: Path) -> Launch:
    """Prism's static mock of the same spec. `--verboseLevel warn` drops its per-request log lines (eight
    per request at the default `info`), which would otherwise halve its throughput; the rest goes to the log.
    It has no health endpoint, so readiness is the first 200 for GET /lead/ld_123."""

    def command(port: int) -> list[str]:
        return [
            str(executable),
            "mock",
            str(SPEC_PATH),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--verboseLevel",
            "warn",
        ]

    return Launch(PRISM, command, ready_path=GET_LEAD.path, ready_headers=tuple(AUTH_HEADERS.items()))


def waitress_server(threads: int) -> Launch:
    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "bench.servers", "--port", str(port), "--threads", str(threads)]

    return Launch(f"waitress, {threads} threads", command)


def gunicorn_gthread(threads: int) -> Launch:
    def command(port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread"),
            *("--threads", str(threads), "--bind", f"127.0.0.1:{port}"),
            "--no-control-socket",  # else gunicorn 27 leaves a socket in ~/.gunicorn/
            "bench.servers:make_app()",
        ]

    return Launch(f"gunicorn gthread, 1 worker × {threads} threads", command)
