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

pytestmark = pytest.mark.slow  # servers, processes or a browser: make test, not make test-fast


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
    """`make mock`, then Ctrl-C (or a supervisor's SIGTERM): exit 0, no traceback, within seconds, while a
    client is connected mid-body, another waits on a 60 s delay (each gets a 503 problem after 2 s), and a
    third reads none of its answers (granian would wait for it for ever: the server is cut 2 s later)."""
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
        delayed = socket.create_connection(("127.0.0.1", port))
        delayed.sendall(
            b"GET /lead/ld_123 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer kbn_pat_demo\r\nX-Mock-Delay: 60000\r\n\r\n"
        )
        unread = socket.socket()  # asks for Swagger UI's bundle three times and reads none of it
        unread.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        unread.connect(("127.0.0.1", port))
        unread.sendall(b"GET /docs/static/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        time.sleep(0.5)
        started = time.monotonic()
        os.killpg(process.pid, stop)
        _, stderr = process.communicate(timeout=15)
        took = time.monotonic() - started
        delayed.settimeout(1)
        answer = delayed.recv(65536)
        for sock in (stalled, delayed, unread):
            sock.close()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert took < 8, f"stopped after {took:.1f} s"  # in flight: 2 s, not a 60 s delay; unread answers: 2 more
    assert answer.startswith(b"HTTP/1.1 503"), answer
    assert b"/problems/shutting-down" in answer
