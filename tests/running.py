"""The mock as a process of its own, on a free port of 127.0.0.1: for tests of what only a served mock shows."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
import requests


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
