"""The mock as a frontend developer's daily tool (issue #9), as a real process: the busy port, IPv6
loopback, latency that delays no one, failures, the request log and journal, reload on edit, the banner."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.running import free_port

pytestmark = pytest.mark.slow  # servers, processes or a browser: make test, not make test-fast

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": "Bearer kbn_pat_demo"}
Serve = Callable[..., tuple[str, Path]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start the mock with extra arguments; returns its base URL and its log file."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> tuple[str, Path]:
        port = free_port()
        log = tmp_path / f"mock-{port}.log"
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mock_server", "--port", str(port), "--deletion-delay", "0", *args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/_mock/health", timeout=1).ok:
                    return base, log
            except requests.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"the mock did not answer within 30 s: {log.read_text()}")

    yield start
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _wait_for(predicate: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_second_mock_on_a_busy_port_fails_clearly(serve: Serve) -> None:
    base, _ = serve()
    port = base.rsplit(":", 1)[1]
    second = subprocess.run(
        [sys.executable, "-m", "mock_server", "--port", port], capture_output=True, text=True, timeout=60, check=False
    )
    assert second.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in second.stderr


def test_the_banner_says_where_everything_is_and_ipv6_loopback_is_served(serve: Serve) -> None:
    base, log = serve()
    banner = log.read_text()
    for where in (f"{base}/docs", f"{base}/_mock/health", "kbn_pat_demo", "Prefer: code=404", "X-Mock-Delay"):
        assert where in banner
    port = base.rsplit(":", 1)[1]
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    assert f"http://[::1]:{port}" in banner
    assert requests.get(f"http://[::1]:{port}/lead/ld_123", headers=AUTH, timeout=5).status_code == 200


def test_a_delayed_request_delays_no_other_client(serve: Serve) -> None:
    base, _ = serve()
    slow: dict[str, float] = {}

    def delayed() -> None:
        started = time.monotonic()
        requests.get(f"{base}/lead/ld_123", headers={**AUTH, "X-Mock-Delay": "1500"}, timeout=10)
        slow["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=delayed)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).status_code == 200
    fast = time.monotonic() - started
    thread.join()
    assert slow["seconds"] >= 1.5
    assert fast < 0.5


def test_failures_per_request_and_from_the_command_line(serve: Serve) -> None:
    base, _ = serve("--fail-rate", "1", "--fail-with", "429", "--delay", "50")
    failed = requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5)
    assert failed.status_code == 429
    assert failed.headers["Retry-After"].isdigit()
    assert failed.headers["Content-Type"] == "application/problem+json"
    unavailable = requests.get(f"{base}/lead/ld_123", headers={**AUTH, "X-Mock-Fail": "503"}, timeout=5)
    assert unavailable.status_code == 503
    assert "Retry-After" in unavailable.headers
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{base}/lead/ld_123", headers={**AUTH, "X-Mock-Fail": "drop"}, timeout=5)
    # A simulated failure changes nothing.
    requests.put(f"{base}/lead/ld_123", json={"owner_name": "Lost"}, headers=AUTH, timeout=5)
    requests.delete(f"{base}/_mock/chaos", timeout=5)
    assert requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).json()["owner_name"] == "Jane Smith"
    bad = requests.get(f"{base}/lead/ld_123", headers={**AUTH, "X-Mock-Fail": "soon"}, timeout=5)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["name"] == "X-Mock-Fail"


def test_an_operation_rule_set_at_run_time_applies_to_that_operation_only(serve: Serve) -> None:
    base, _ = serve()
    requests.put(f"{base}/_mock/chaos/listLeads", json={"fail_rate": 1, "fail_with": [500]}, timeout=5)
    assert requests.get(f"{base}/leads", headers=AUTH, timeout=5).status_code == 500
    assert requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).status_code == 200


def test_one_log_line_per_request_with_the_reason_and_never_the_credentials(serve: Serve) -> None:
    base, log = serve()
    requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5)
    requests.get(f"{base}/leads?limit=0", headers=AUTH, timeout=5)
    requests.get(f"{base}/lead/ld_123", auth=("lv_ci_demo", "lv_cs_demo"), timeout=5)
    assert _wait_for(lambda: "GET /leads?limit=0 400" in log.read_text())
    text = log.read_text()
    assert "GET /lead/ld_123 200" in text
    assert "query limit" in text.split("GET /leads?limit=0 400", 1)[1].splitlines()[0]
    for secret in ("kbn_pat_demo ", "Bearer kbn", "lv_cs_demo", "Basic "):
        assert secret not in text.split("try:", 1)[1].split("\n", 1)[1]


def test_the_journal_lists_recent_requests_with_their_verdict_and_clears(serve: Serve) -> None:
    base, _ = serve("--quiet")
    requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5)
    requests.get(f"{base}/lead/ld_123", headers={**AUTH, "Prefer": "code=404"}, timeout=5)
    requests.get(f"{base}/leads?limit=0", headers=AUTH, timeout=5)
    entries = requests.get(f"{base}/_mock/requests?limit=3", timeout=5).json()["requests"]
    assert [(e["path"], e["status"]) for e in entries] == [
        ("/leads?limit=0", 400),
        ("/lead/ld_123", 404),
        ("/lead/ld_123", 200),
    ]
    assert entries[0]["verdict"].startswith("rejected: ")
    assert entries[1]["verdict"] == "forced: code=404"
    assert entries[2]["verdict"] == "ok"
    assert requests.delete(f"{base}/_mock/requests", timeout=5).status_code == 204
    assert requests.get(f"{base}/_mock/requests", timeout=5).json()["requests"] == []


def test_quiet_prints_no_request_lines(serve: Serve) -> None:
    base, log = serve("--quiet")
    requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5)
    time.sleep(0.3)
    assert "GET /lead/ld_123" not in log.read_text()


def test_an_edit_of_the_spec_or_the_seed_is_served_without_restart(serve: Serve, tmp_path: Path) -> None:
    spec, seed = tmp_path / "openapi.yaml", tmp_path / "seed.yaml"
    shutil.copy(ROOT / "openapi.yaml", spec)
    shutil.copy(ROOT / "mock_server" / "data" / "seed.yaml", seed)
    base, log = serve("--spec", str(spec), "--seed", str(seed))
    requests.put(f"{base}/lead/ld_123", json={"owner_name": "Kept"}, headers=AUTH, timeout=5)
    days = f"{base}/lead/ld_123/score-history?days=60"
    assert requests.get(days, headers=AUTH, timeout=5).status_code == 200
    text = spec.read_text()
    marker = "A window of the last `days` days (at most 90, the retention)"
    at = text.index(marker)
    spec.write_text(text[:at] + text[at:].replace("maximum: 90", "maximum: 30", 1))
    assert _wait_for(lambda: requests.get(days, headers=AUTH, timeout=5).status_code == 400), log.read_text()
    assert requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).json()["owner_name"] == "Kept"
    spec.write_text(spec.read_text() + "\nbroken: [\n")
    assert _wait_for(lambda: "NOT reloaded" in log.read_text())
    assert requests.get(days, headers=AUTH, timeout=5).status_code == 400  # the last good version
    assert "openapi.yaml" in requests.get(f"{base}/_mock/health", timeout=5).json()["reload_error"]
    seed.write_text(seed.read_text().replace("owner_name: Jane Smith", "owner_name: Jane Edited", 1))
    spec.write_text(text)
    assert _wait_for(
        lambda: requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).json()["owner_name"] == "Jane Edited"
    ), log.read_text()


# -- issue #21: defects --------------------------------------------------------------------------


def _raw_get(base: str, path: str, headers: str) -> bytes:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host.strip("[]"), int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_dropped_connection_carries_cors_headers(serve: Serve) -> None:
    """A browser reports a drop without CORS headers as a CORS error, not as the cut-off body it is."""
    base, _ = serve()
    origin = "http://localhost:5173"
    answer = _raw_get(
        base, "/lead/ld_123", f"Origin: {origin}\r\nAuthorization: Bearer kbn_pat_demo\r\nX-Mock-Fail: drop\r\n"
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().lower().split("\r\n")
    assert f"access-control-allow-origin: {origin}" in lines
    promised = int(next(line for line in lines if line.startswith("content-length:")).split(":")[1])
    assert 0 < len(body) < promised


def _answers(url: str) -> bool:
    try:
        return requests.get(url, headers=AUTH, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def test_an_ipv6_host_is_printed_in_brackets(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    port = free_port()
    log = tmp_path / "mock.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mock_server", "--host", "::1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://[::1]:{port}"
        # The banner is printed just before the socket listens: wait for an answer, not for the text.
        assert _wait_for(lambda: _answers(f"{base}/lead/ld_123"), 30), log.read_text()
        assert f"serving {base}" in log.read_text()
        assert f"http://::1:{port}" not in log.read_text()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_start_up_chaos_is_shown_and_survives_setting_a_delay(serve: Serve) -> None:
    base, log = serve("--fail-rate", "0.5")
    assert "CHAOS IN FORCE" in log.read_text()
    assert "fail_rate 0.5 (500, 503)" in log.read_text()
    assert requests.get(f"{base}/_mock/health", timeout=5).json()["chaos"]["all"]["fail_rate"] == 0.5
    rules = requests.put(f"{base}/_mock/chaos", json={"delay": "200"}, timeout=5).json()["all"]
    assert rules == {"delay": "200", "fail_rate": 0.5, "fail_with": [500, 503]}


def test_reload_serves_the_spec_in_force(serve: Serve, tmp_path: Path) -> None:
    """/openapi.yaml is the spec validation uses: the edited one once it loads, the last good one after
    an edit that does not load (the mock's own limits are not in the spec: mock_server.limits)."""
    spec = tmp_path / "openapi.yaml"
    shutil.copy(ROOT / "openapi.yaml", spec)
    base, log = serve("--spec", str(spec))
    text = spec.read_text()
    assert "\n  title: " in text
    spec.write_text(text.replace("\n  title: ", "\n  title: Edited ", 1))
    assert _wait_for(lambda: "reloaded" in log.read_text()), log.read_text()
    good = requests.get(f"{base}/openapi.yaml", timeout=5).text
    assert "title: Edited " in good
    spec.write_text(spec.read_text() + "\nbroken: [\n")
    assert _wait_for(lambda: "NOT reloaded" in log.read_text())
    assert requests.get(f"{base}/openapi.yaml", timeout=5).text == good  # what validation uses, not the file


def test_fail_the_next_two_calls_to_one_operation(serve: Serve) -> None:
    """WireMock's "fail the next 2 calls to getLead": a rule with `times` is gone after that many."""
    base, _ = serve()
    rule = {"fail_rate": 1, "fail_with": [503], "times": 2}
    shown = requests.put(f"{base}/_mock/chaos/getLead", json=rule, timeout=5).json()["operations"]["getLead"]
    assert shown["times"] == 2
    assert requests.get(f"{base}/leads", headers=AUTH, timeout=5).status_code == 200  # another operation
    statuses = [requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert requests.get(f"{base}/_mock/chaos", timeout=5).json()["operations"] == {}
    bad = requests.put(f"{base}/_mock/chaos", json={"times": 0}, timeout=5)
    assert bad.status_code == 400


def test_the_journal_answers_was_it_called_n_times_and_with_what(serve: Serve) -> None:
    """WireMock's request journal: headers (credentials redacted), query, bodies; filtered by operation."""
    base, _ = serve("--quiet")
    for request_id in ("a-1", "a-2"):
        requests.get(
            f"{base}/lead/ld_123",
            headers={**AUTH, "X-Request-Id": request_id, "Cookie": "sid=c00kie-secret"},
            timeout=5,
        )
    requests.put(f"{base}/lead/ld_124", headers=AUTH, json={"owner_name": "Ada"}, timeout=5)
    requests.get(f"{base}/leads?limit=2", headers=AUTH, timeout=5)
    called = requests.get(f"{base}/_mock/requests?operation=getLead", timeout=5).json()
    assert called["count"] == 2
    assert [entry["headers"]["x-request-id"] for entry in called["requests"]] == ["a-2", "a-1"]
    assert all(entry["headers"]["authorization"] == "[redacted]" for entry in called["requests"])
    assert called["requests"][0]["headers"]["cookie"] == "[redacted]"
    assert '"lead_id":"ld_123"' in called["requests"][0]["response"]
    [update] = requests.get(f"{base}/_mock/requests?operation=updateLead", timeout=5).json()["requests"]
    assert update["body"] == '{"owner_name": "Ada"}'
    [listed] = requests.get(f"{base}/_mock/requests?operation=listLeads", timeout=5).json()["requests"]
    assert listed["query"] == "limit=2"
    text = requests.get(f"{base}/_mock/requests", timeout=5).text
    assert "kbn_pat_demo" not in text
    assert "c00kie-secret" not in text
    assert requests.get(f"{base}/_mock/requests?operation=nothing", timeout=5).status_code == 400


def test_more_fault_kinds_empty_a_broken_chunk_and_a_dribbled_body(serve: Serve) -> None:
    base, _ = serve()
    auth = "Authorization: Bearer kbn_pat_demo\r\n"
    head, _, body = _raw_get(base, "/lead/ld_123", f"{auth}X-Mock-Fail: empty\r\n").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"content-length: " in head.lower()
    assert body == b""  # the head, then the connection closes: not a byte of the promised body
    head, _, body = _raw_get(base, "/lead/ld_123", f"{auth}X-Mock-Fail: chunk\r\n").partition(b"\r\n\r\n")
    lines = head.decode().lower().split("\r\n")
    assert "transfer-encoding: chunked" in lines
    assert not any(line.startswith("content-length:") for line in lines)
    assert body
    assert not body.endswith(b"0\r\n\r\n")  # the chunked body never ends
    started = time.monotonic()
    dribbled = requests.get(f"{base}/lead/ld_123", headers={**AUTH, "X-Mock-Fail": "dribble"}, timeout=10)
    took = time.monotonic() - started
    assert dribbled.status_code == 200
    assert dribbled.json() == requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).json()
    assert took >= 1.5, took
    verdicts = [entry["verdict"] for entry in requests.get(f"{base}/_mock/requests", timeout=5).json()["requests"]]
    assert {"simulated: empty", "simulated: chunk", "simulated: dribble"} <= set(verdicts)
    rule = requests.put(f"{base}/_mock/chaos", json={"fail_with": ["empty", "chunk", "dribble", "drop"]}, timeout=5)
    assert rule.status_code == 200


def test_rules_aimed_at_a_lead_or_a_path(serve: Serve) -> None:
    base, _ = serve()
    at_lead = {"fail_rate": 1, "fail_with": [503], "lead": "ld_124"}
    assert requests.put(f"{base}/_mock/chaos", json=at_lead, timeout=5).json()["all"]["lead"] == "ld_124"
    assert requests.get(f"{base}/lead/ld_124", headers=AUTH, timeout=5).status_code == 503
    assert requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).status_code == 200
    requests.delete(f"{base}/_mock/chaos", timeout=5)
    at_path = {"fail_rate": 1, "fail_with": [500], "path": "/lead/ld_12[0-3]", "times": 1}
    requests.put(f"{base}/_mock/chaos/getLead", json=at_path, timeout=5)
    assert requests.get(f"{base}/lead/ld_999", headers=AUTH, timeout=5).status_code == 404  # not aimed at
    assert requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).status_code == 500
    assert requests.get(f"{base}/lead/ld_123", headers=AUTH, timeout=5).status_code == 200  # once only
    assert requests.put(f"{base}/_mock/chaos", json={"path": "(unclosed"}, timeout=5).status_code == 400
