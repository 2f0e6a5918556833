"""`leadvibe-mock` as a frontend developer runs it: a real process, over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

MOCK = [sys.executable, "-m", "mock_server"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*MOCK, "--port", str(port), "--deletion-delay", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
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
            pytest.fail("the mock did not answer within 30 s")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_the_seed_pages_curl_example_works_against_the_mock(served: str) -> None:
    # curl -X GET "https://api.leadvibe.com/lead/ld_123" -H "Authorization: Bearer <token>"
    response = requests.get(f"{served}/lead/ld_123", headers={"Authorization": "Bearer kbn_pat_demo"}, timeout=5)
    assert response.status_code == 200
    assert response.json()["owner_name"] == "Jane Smith"
    deleted = requests.delete(f"{served}/lead/ld_123", headers={"Authorization": "Bearer kbn_pat_demo"}, timeout=5)
    assert deleted.json() == {"message": "Lead deletion initiated", "lead_id": "ld_123"}
    status = requests.get(
        f"{served}/lead/ld_123/deletion-status", headers={"Authorization": "Bearer kbn_pat_demo"}, timeout=5
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
