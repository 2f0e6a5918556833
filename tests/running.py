"""The mock (and the validating proxy) as a process of its own, on a free port of 127.0.0.1: for tests of what
only a served mock shows; and any WSGI app served in a thread."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from waitress.server import create_server

MOCK = [sys.executable, "-m", "mock_server"]  # the mock as `leadvibe-mock` runs it
Wsgi = Any


@contextmanager
def serving(app: Wsgi, threads: int = 4) -> Iterator[str]:
    """`app` served by waitress in a thread on a free port of 127.0.0.1: its base URL; closed after.

    waitress is closed from this thread while its own sits in select(): that select may then fail on the
    closed socket (EBADF), which after the close is the end of serving, not an error."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    closing = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:
            if not closing.is_set():
                raise

    threading.Thread(target=run, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        closing.set()
        server.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_mock(command: Sequence[str], *args: str, output: int | None = subprocess.DEVNULL) -> Iterator[str]:
    """Start `command --port <free> *args`, wait (30 s at most) for /_mock/health; its base URL; stop it after."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port), *args], stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/_mock/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("the mock did not answer /_mock/health within 30 s")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


PROXY = [sys.executable, "-m", "mock_server"]


@dataclass
class Proxy:
    base: str
    process: subprocess.Popen[str]
    journal: Path

    def stop(self) -> str:
        """SIGINT, as Ctrl-C; everything it printed (the summary included)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        out, _ = self.process.communicate(timeout=20)
        return out

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.journal.read_text(encoding="utf-8").splitlines()]


def start_proxy(upstream: str, tmp: Path, *extra: str) -> Proxy:
    port = free_port()
    journal = tmp / f"journal-{port}.jsonl"
    process = subprocess.Popen(
        [*PROXY, "--port", str(port), "--proxy", upstream, "--journal", str(journal), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Proxy(f"http://127.0.0.1:{port}", process, journal)
        except OSError:
            time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    pytest.fail("the proxy did not listen within 30 s")
