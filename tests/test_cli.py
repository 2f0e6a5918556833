"""`leadvibe-mock` as a frontend developer runs it: a real process, over real HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.running import running_mock

MOCK = [sys.executable, "-m", "mock_server"]


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
