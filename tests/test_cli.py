"""`leadvibe-mock` as a frontend developer runs it: a real process, over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.running import MOCK, free_port, running_mock


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with running_mock(MOCK, "--deletion-delay", "0", output=subprocess.PIPE) as base:
        yield base


def test_the_seed_pages_curl_example_works_against_the_mock(served: str) -> None:
    # curl -X GET "https://api.leadvibe.com/lead/ld_123" -H "Authorization: Bearer <token>"
    response = requests.get(f"{served}/lead/ld_123", headers={"Authorization": "Bearer kbn_pat_demo"}, timeout=5)
    assert response.status_code == 200
    assert response.json()["owner_name"] == "Jane Smith"
    deleted = requests.delete(f"{served}/lead/ld_123", headers={"Authorization": "Bearer kbn_pat_demo"}, timeout=5)
    assert deleted.json() == {"message": "Lead deletion initiated", "lead_id": "ld_123"}
    status = requests.get(
        f"{served}/lead-deletions/ld_123", headers={"Authorization": "Bearer kbn_pat_demo"}, timeout=5
    )
    assert status.json()["status"] == "completed"  # --deletion-delay 0


def test_help_documents_every_option() -> None:
    text = subprocess.run([*MOCK, "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--host", "--port", "--seed", "--deletion-delay", "--cors-origin", "--body-timeout"):
        assert option in text


def test_a_bad_seed_file_stops_the_mock_with_a_clear_message(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("orgs: [\n", encoding="utf-8")
    result = subprocess.run([*MOCK, "--seed", str(seed)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "is not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_mock_stops_cleanly_on_ctrl_c_and_sigterm(stop: signal.Signals) -> None:
    """`make mock`, then Ctrl-C (or a supervisor's SIGTERM): exit 0, no traceback, while a client is
    connected mid-body (the graceful shutdown does not wait on it for ever)."""
    port = free_port()
    process = subprocess.Popen(
        [*MOCK, "--port", str(port), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/_mock/health", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(b"PUT /lead/ld_123 HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        time.sleep(0.2)
        os.killpg(process.pid, stop)
        _, stderr = process.communicate(timeout=15)
        stalled.close()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
