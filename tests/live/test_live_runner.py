"""`leadvibe-contracts` run by itself against a target that dies, refuses or lies about TLS: one run per test,
so these spread over make test's workers apart from the scenarios (test_live_gate.py)."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from tests.gate.variants import correct
from tests.live.faults import Faults, FaultyTarget, serve
from tests.live.runs import ONE, ROOT, TOKEN, WRITES, launch
from tests.running import free_port

pytestmark = pytest.mark.slow
# Tests whose leads live until the run ends (not test_after_delete's, which it deletes at once).
HOLDERS = ("-k", "test_ownership or patch_merges or put_writes")


def _kill(process: subprocess.Popen[Any], target: FaultyTarget) -> None:
    """Once the run holds a lead of its own (HOLDERS: the leads of those tests live until it ends)."""
    deadline = time.monotonic() + 120
    while target.variant.store.lead_count() <= 76 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()


def test_a_killed_run_leaves_a_ledger_that_cleanup_uses(tmp_path: Path) -> None:
    with serve(Faults(latency=0.01)) as (base_url, target):
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "LEADVIBE_BASE_URL": base_url,
            "LEADVIBE_TOKEN": TOKEN,
            "LEADVIBE_ALLOW_WRITES": "1",
            "LEADVIBE_MAX_EXAMPLES": "3",
            "LEADVIBE_RATE_LIMIT": "1000",
            "LEADVIBE_STATE_DIR": str(tmp_path / "state"),
            "LEADVIBE_CONCURRENCY": "2",
        }
        command = [sys.executable, "-m", "contracts", "--report-dir", str(tmp_path / "reports")]
        process = subprocess.Popen([*command, *HOLDERS], cwd=ROOT, env=environment, stdout=subprocess.DEVNULL)
        _kill(process, target)  # like SIGKILL from CI: no clean-up at all
        killed_at = time.monotonic()
        process.wait(timeout=60)
        time.sleep(2.5)
        # The workers went with their runner (within a second): nothing more reached the target.
        assert not [r for r in target.requests if r.at > killed_at + 1.0]
        assert target.variant.store.lead_count() > 76
        cleaned = subprocess.run(
            [*command, "cleanup"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False
        )
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        assert "removed" in cleaned.stdout
        assert target.variant.store.lead_count() == 76
        assert not [r for r in target.requests if r.method in WRITES and r.path.split("/")[2:3] == ["ld_123"]]


def _contracts(tmp: Path, url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "LEADVIBE_BASE_URL": url, "LEADVIBE_TOKEN": TOKEN}
    return subprocess.run(
        [sys.executable, "-m", "contracts", "--report-dir", str(tmp / "reports"), *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unreachable_target_is_one_line_and_exit_3(tmp_path: Path) -> None:
    result = _contracts(tmp_path, "http://127.0.0.1:9")
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "leadvibe-contracts: target unavailable: http://127.0.0.1:9: cannot connect (Connection refused)"
    ]


@pytest.fixture
def tls_target(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The mock over HTTPS with a self-signed certificate for 127.0.0.1: (base URL, the certificate)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a certificate for the TLS test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = make_server("127.0.0.1", 0, correct().app, handler_class=_QuietHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}", cert
    finally:
        server.shutdown()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_an_untrusted_certificate_is_one_line_and_a_ca_bundle_fixes_it(
    tmp_path: Path, tls_target: tuple[str, Path]
) -> None:
    url, cert = tls_target
    untrusted = _contracts(tmp_path, url)
    assert untrusted.returncode == 3, untrusted.stdout + untrusted.stderr
    assert len(untrusted.stderr.strip().splitlines()) == 1
    assert "certificate not trusted" in untrusted.stderr
    assert "LEADVIBE_CA_BUNDLE" in untrusted.stderr
    assert TOKEN not in untrusted.stdout + untrusted.stderr
    trusted = _contracts(tmp_path, url, "-k", "singular", LEADVIBE_CA_BUNDLE=str(cert), LEADVIBE_CONCURRENCY="1")
    assert trusted.returncode == 0, trusted.stdout[-3000:] + trusted.stderr[-3000:]
    assert "TLS: CA bundle" in trusted.stdout
    assert "1 passed" in trusted.stdout


@pytest.fixture
def mock_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The real mock server (`python -m mock_server`) on a free port: (base URL, its process)."""
    port = free_port()
    command = [sys.executable, "-m", "mock_server", "--port", str(port), "--quiet", "--no-reload"]
    mock = subprocess.Popen(
        [*command, "--deletion-delay", "0.2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _await_port(port)
        yield f"http://127.0.0.1:{port}", mock
    finally:
        mock.kill()
        mock.wait(timeout=10)


def test_a_target_lost_mid_run_gets_its_verdict_within_a_minute(
    tmp_path: Path, mock_process: tuple[str, subprocess.Popen[bytes]]
) -> None:
    base_url, mock = mock_process
    lost_at: list[float] = []

    def kill_the_target(process: subprocess.Popen[Any], target: FaultyTarget) -> None:
        time.sleep(3)  # the run is under way, writes and all
        mock.kill()
        lost_at.append(time.monotonic())

    result = launch(tmp_path, base_url, FaultyTarget(correct(), Faults()), env=ONE, during=kill_the_target)
    ended_at = time.monotonic()
    assert result.code == 3, result.output[-3000:]
    assert "verdict: target unavailable" in result.output
    assert ended_at - lost_at[0] < 60, ended_at - lost_at[0]  # within a minute of the loss
    assert "<failure" not in result.junit, result.junit[-3000:]  # its aftermath is not a broken contract
    assert "target unavailable: " in result.junit  # the tests it cut short say why they were skipped


def _await_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("the mock never listened")


@pytest.mark.parametrize(
    ("suffix", "env", "expected"),
    [
        ("/api", {}, "answer 404: is LEADVIBE_BASE_URL the API's base"),
        ("", {"LEADVIBE_OTHER_OU_TOKEN": "kbn_pat_typo"}, "LEADVIBE_OTHER_OU_TOKEN was refused"),
        ("", {"LEADVIBE_TOKEN": "kbn_pat_typo"}, "LEADVIBE_TOKEN was refused"),
    ],
    ids=["base path", "other token", "token"],
)
def test_a_configuration_mistake_is_one_line_and_exit_2(
    tmp_path: Path, suffix: str, env: dict[str, str], expected: str
) -> None:
    with serve(Faults()) as (base_url, target):
        result = _contracts(tmp_path, base_url + suffix, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("leadvibe-contracts: configuration: "), lines
    assert expected in lines[0], lines
    assert len(target.requests) <= 3


def test_https_to_a_plain_http_port_says_so(tmp_path: Path, mock_process: tuple[str, subprocess.Popen[bytes]]) -> None:
    base_url, _ = mock_process
    result = _contracts(tmp_path, base_url.replace("http://", "https://"))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "plain HTTP" in result.stderr, result.stderr
    assert "CA bundle" not in result.stderr
