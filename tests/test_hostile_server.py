"""Issues #10 and #19 against the real server (`leadvibe-mock`, granian) over raw sockets: a stalled or
oversized request never freezes other clients; what reaches the app is answered with a problem document,
and what granian refuses before the app is its own empty answer (docs/mock-limits.md)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.api.docs import DIST
from mock_server.limits import LIMITS
from tests.running import MOCK, free_port

pytestmark = pytest.mark.slow  # servers, processes or a browser: make test, not make test-fast

BODY_TIMEOUT = 1.0
SERVER: dict[str, int] = {}  # the served mock's pid, for its memory
HEAD = "Host: 127.0.0.1\r\nAuthorization: Bearer kbn_pat_demo\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    port = free_port()
    process = subprocess.Popen(
        [*MOCK, "--port", str(port), "--quiet", "--body-timeout", str(BODY_TIMEOUT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    SERVER["pid"] = process.pid
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/_mock/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("the mock did not answer within 30 s")
        yield "127.0.0.1", port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _open(server: tuple[str, int], head: bytes) -> socket.socket:
    sock = socket.create_connection(server, timeout=10)
    sock.sendall(head)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _health_is_quick(server: tuple[str, int]) -> None:
    started = time.monotonic()
    assert requests.get(f"http://{server[0]}:{server[1]}/_mock/health", timeout=BODY_TIMEOUT / 2).status_code == 200
    assert time.monotonic() - started < BODY_TIMEOUT / 2


@pytest.mark.parametrize(
    "head",
    [
        f"PUT /lead/ld_123 HTTP/1.1\r\n{HEAD}Content-Length: 100\r\n\r\n" + '{"owner_name":',
        f"POST /ingest HTTP/1.1\r\n{HEAD}Transfer-Encoding: chunked\r\n\r\n5\r\n" + '{"eve',
    ],
    ids=["content-length", "chunked"],
)
def test_a_stalled_body_delays_no_one_and_gets_a_408(server: tuple[str, int], head: str) -> None:
    stalled = [_open(server, head.encode()) for _ in range(3)]
    time.sleep(0.1)
    _health_is_quick(server)
    started = time.monotonic()
    for sock in stalled:
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"application/problem+json" in answer
        assert b"/problems/request-timeout" in answer
        sock.close()
    assert time.monotonic() - started < BODY_TIMEOUT + 3


def test_a_chunked_body_over_the_limit_is_a_413_not_truncated(server: tuple[str, int]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"owner_name":"'
        for _ in range(15):
            yield b"a" * 100_000
        yield b'"}'

    url = f"http://{server[0]}:{server[1]}/lead/ld_123"
    headers = {"Authorization": "Bearer kbn_pat_demo", "Content-Type": "application/json"}
    chunked = requests.put(url, headers=headers, data=chunks(), timeout=10)
    assert chunked.status_code == 413
    assert chunked.headers["Content-Type"] == "application/problem+json"
    with_length = requests.put(url, headers=headers, data=b"".join(chunks()), timeout=10)
    assert with_length.status_code == 413
    assert requests.get(url, headers=headers, timeout=5).json()["owner_name"] == "Jane Smith"


def test_a_body_cut_short_by_the_client_is_never_applied(server: tuple[str, int]) -> None:
    """The client promises 100 bytes, sends a complete JSON object of 26 and hangs up: nothing is stored."""
    body = b'{"owner_name":"Cut Short"}'
    sock = _open(server, f"PUT /lead/ld_123 HTTP/1.1\r\n{HEAD}Content-Length: 100\r\n\r\n".encode() + body)
    sock.shutdown(socket.SHUT_WR)
    _answer(sock)
    sock.close()
    url = f"http://{server[0]}:{server[1]}/lead/ld_123"
    time.sleep(0.2)
    lead = requests.get(url, headers={"Authorization": "Bearer kbn_pat_demo"}, timeout=5).json()
    assert lead["owner_name"] == "Jane Smith"


def test_a_malformed_content_length_is_a_400_problem(server: tuple[str, int]) -> None:
    sock = _open(server, f"PUT /lead/ld_123 HTTP/1.1\r\n{HEAD}Content-Length: 1x\r\n\r\n{{}}".encode())
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer


def test_slash_merging_never_redirects_off_the_mock(server: tuple[str, int]) -> None:
    sock = _open(server, b"GET /lead//ld_123 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 404"), answer
    assert b"evil.example" not in answer
    assert b"application/problem+json" in answer


TARGET_LIMIT = LIMITS.max_request_target_bytes
FIELDS_LIMIT = 100  # hyper's, fixed
HEADER_BYTES_LIMIT = LIMITS.max_header_bytes


def _problem_of(answer: bytes, *, closes: bool = True) -> tuple[int, dict[str, object]]:
    """The status and the problem document of a raw answer, which must close the connection (`closes`)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    fields = {line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")[1:]}
    assert fields[b"content-type"] == b"application/problem+json", head
    assert not closes or fields[b"connection"] == b"close", head
    assert int(fields[b"content-length"]) == len(body), head
    problem = orjson.loads(body)
    assert problem["status"] == status
    return status, problem


def _own_answer_of(answer: bytes) -> int:
    """The status of granian's own refusal: no body, the connection closed after it."""
    head, _, body = answer.partition(b"\r\n\r\n")
    fields = {line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")[1:]}
    assert (fields[b"content-length"], fields[b"connection"], body) == (b"0", b"close", b""), answer[:300]
    return int(head.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("request_bytes", "status", "problem_type"),
    [
        (
            b"GET /leads?" + b"a" * TARGET_LIMIT + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            414,
            "/problems/uri-too-long",
        ),
        (
            b"GET /leads HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * HEADER_BYTES_LIMIT + b"\r\n\r\n",
            431,
            "/problems/headers-too-large",
        ),
        (
            b"PUT /lead/ld_123 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
            400,
            "/problems/malformed-request",
        ),
    ],
    ids=["target-over-limit", "header-bytes", "length-and-chunked"],
)
def test_what_reaches_the_app_past_a_limit_is_a_problem_document(
    server: tuple[str, int], request_bytes: bytes, status: int, problem_type: str
) -> None:
    """Within the head granian accepts, the mock's own limits are problem documents, the connection closed."""
    sock = _open(server, request_bytes)
    answer = _answer(sock)
    sock.close()
    got, problem = _problem_of(answer)
    assert (got, problem["type"]) == (status, problem_type)
    _health_is_quick(server)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /leads?" + b"a" * 65_536 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
        (
            b"GET /leads HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(FIELDS_LIMIT))
            + b"\r\n",
            431,
        ),
        (b"GET /leads HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 400_000, 431),
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"GET /lead/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /lead/ld_123 HTTP/2.0\r\n\r\n", 400),
        (b"GET /_mock/health HTTP/0.9\r\n\r\n", 400),
        (b"GET /_mock/health\r\n\r\n", 400),
    ],
    ids=[
        "64k-query",
        "too-many-headers",
        "endless-header",
        "garbage",
        "non-ascii-target",
        "http-2.0",
        "http-0.9",
        "no-version",
    ],
)
def test_what_granian_refuses_before_the_app_is_its_own_empty_answer(
    server: tuple[str, int], request_bytes: bytes, status: int
) -> None:
    """Malformed HTTP and a head over `max_head_bytes` (or hyper's 100 fields): granian's status line, no
    body, the connection closed (as Prism and WireMock answer with their server's own); others unharmed."""
    sock = _open(server, request_bytes)
    answer = _answer(sock)
    sock.close()
    assert _own_answer_of(answer) == status
    _health_is_quick(server)


def test_a_refusal_waits_for_the_answers_owed_to_earlier_pipelined_requests(server: tuple[str, int]) -> None:
    """Two requests in one send, the first slow, the second garbage: the first answer comes first, whole,
    then the refusal, then the close (never the refusal first, which would desynchronise the client)."""
    first = f"GET /lead/ld_123 HTTP/1.1\r\n{HEAD}X-Mock-Delay: 300\r\n\r\n".encode()
    sock = _open(server, first + b"NOT HTTP AT ALL\r\n\r\n")
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    head, _, rest = answer.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1]
    )
    assert orjson.loads(rest[:length])["lead_id"] == "ld_123"
    assert _own_answer_of(rest[length:]) == 400


def test_the_limits_are_not_refused_below_them(server: tuple[str, int]) -> None:
    """Exactly at the limits, the request is served: the limits are the spec's, not lower."""
    query = b"/leads?limit=5&x=" + b"a" * (TARGET_LIMIT - len(b"/leads?limit=5&x="))
    fields = b"".join(b"X-H%d: v\r\n" % i for i in range(FIELDS_LIMIT - 3))
    sock = _open(
        server,
        b"GET "
        + query
        + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer kbn_pat_demo\r\n"
        + fields
        + b"Connection: close\r\n\r\n",
    )
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    assert not answer.startswith((b"HTTP/1.1 414", b"HTTP/1.1 431")), answer[:300]


def test_a_head_that_does_not_arrive_in_time_is_closed(server: tuple[str, int]) -> None:
    """A client that trickles (or stops sending) its request line and headers holds a socket, not the
    thread, and only until the deadline (granian's header read timeout): then the connection closes."""
    sock = _open(server, b"GET /lead/ld_123 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    _health_is_quick(server)
    started = time.monotonic()
    assert _answer(sock) == b""
    sock.close()
    assert time.monotonic() - started < BODY_TIMEOUT + 3


# Request heads no well-behaved client sends: raw bytes in the target, odd methods and versions, the
# headers that steer parsing (length, chunking, expectations) with hostile values, and control bytes.
_TARGET_BYTES = st.binary(max_size=40).filter(lambda raw: not any(b in raw for b in b" \r\n"))
_STEERING = st.sampled_from(
    [b"content-length", b"transfer-encoding", b"expect", b"host", b"content-type", b"authorization", b"cookie"]
)
_VALUE = st.binary(max_size=60).filter(lambda raw: b"\r" not in raw and b"\n" not in raw)
_HEADER = st.tuples(
    st.one_of(_STEERING, st.binary(min_size=1, max_size=20).filter(lambda raw: not any(b in raw for b in b":\r\n"))),
    _VALUE,
)
HOSTILE_HEADS = st.builds(
    lambda method, target, version, headers: (
        method
        + b" "
        + target
        + b" "
        + version
        + b"\r\n"
        + b"".join(n + b": " + v + b"\r\n" for n, v in headers)
        + b"Connection: close\r\n\r\n"
    ),
    st.sampled_from([b"GET", b"PUT", b"PATCH", b"POST", b"DELETE", b"OPTIONS", b"HEAD", b"BREW", b"G\x00T"]),
    st.one_of(
        st.sampled_from([b"/lead/ld_123", b"/leads", b"/ingest", b"/_mock/health", b"*", b"http://evil.example/x"]),
        st.builds(lambda raw: b"/lead/" + raw, _TARGET_BYTES),
        st.builds(lambda raw: b"/leads?" + raw, _TARGET_BYTES),
    ),
    st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9.9", b"HTTP/1.1x", b""]),
    st.lists(_HEADER, max_size=6),
)


def _final_answer(answer: bytes) -> bytes:
    """The answer after any interim `100 Continue`."""
    while answer.startswith(b"HTTP/1.1 1"):
        answer = answer.partition(b"\r\n\r\n")[2]
    return answer


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(head=HOSTILE_HEADS)
def test_whatever_head_arrives_the_answer_is_the_specs_or_a_problem(server: tuple[str, int], head: bytes) -> None:
    """Never silence, never a plain-text error: a status line, and every 4xx and 5xx a problem document,
    or granian's own empty refusal of malformed HTTP. (A head that leaves a body owed ends with the body
    deadline's 408.)"""
    sock = _open(server, head)
    answer = _final_answer(_answer(sock))
    sock.close()
    assert answer.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), (head, answer[:200])
    status = int(answer.split(b" ", 2)[1])
    assert 200 <= status < 500, (head, answer[:300])
    if status >= 400 and head[:4] != b"HEAD":
        if b"content-type" in answer.partition(b"\r\n\r\n")[0].lower():
            _, problem = _problem_of(answer, closes=False)  # an app's 401 keeps the connection
            assert str(problem["type"]).startswith("/problems/"), answer[:300]
        else:
            assert _own_answer_of(answer) in (400, 431), (head, answer[:300])


def test_pipelined_requests_before_a_refusal_are_all_answered_first(server: tuple[str, int]) -> None:
    """A write and 300 reads pipelined in one send, then garbage: 301 answers in order, then the problem."""
    write = f'PUT /lead/ld_123 HTTP/1.1\r\n{HEAD}Content-Length: 27\r\n\r\n{{"owner_name":"Jane Smith"}}'.encode()
    reads = b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n\r\n" * 300
    sock = _open(server, write + reads + b"GARBAGE\r\n\r\n")
    answer = _answer(sock)
    sock.close()
    statuses = [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]
    assert statuses == [200] * 301 + [400], statuses[-5:]
    assert _own_answer_of(answer[answer.rindex(b"HTTP/1.1 400") :]) == 400
    assert b'"owner_name":"Jane Smith"' in answer.split(b"HTTP/1.1 200")[1]


def test_a_head_split_across_reads_after_many_pipelined_requests_is_not_refused(server: tuple[str, int]) -> None:
    """The head's allowance counts its own bytes, not those of the requests read before it (a 431 was)."""
    first = b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n\r\n" * 1_300 + b"GET /_mock/health HTTP/1.1\r\nHo"
    sock = _open(server, first)
    time.sleep(0.3)
    sock.sendall(b"st: x\r\nConnection: close\r\n\r\n")
    answer = _answer(sock)
    sock.close()
    assert answer.count(b"HTTP/1.1 200") == 1_301
    assert b"HTTP/1.1 431" not in answer


def test_blank_lines_do_not_keep_a_connection_open(server: tuple[str, int]) -> None:
    """Empty lines are allowed between requests, but they are not a request: the idle timeout stands."""
    sock = socket.create_connection(server, timeout=10)
    started = time.monotonic()
    closed = False
    while not closed and time.monotonic() - started < BODY_TIMEOUT + 5:
        try:
            sock.sendall(b"\r\n")
            sock.settimeout(0.5)
            closed = sock.recv(10) == b""
        except TimeoutError:
            continue
        except OSError:
            closed = True
    sock.close()
    assert closed
    assert time.monotonic() - started < BODY_TIMEOUT + 2


def _rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for the server's memory")
def test_clients_that_do_not_read_hold_one_answer_each_and_delay_no_one(server: tuple[str, int]) -> None:
    """150 clients ask for Swagger UI's bundle (1.4 MB) three times each and never read: granian answers
    a connection's requests one at a time, so each holds at most one answer (three would be 630 MB)."""
    before = _rss_mb(SERVER["pid"])
    clients = []
    for _ in range(150):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(server)
        sock.sendall(b"GET /docs/static/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        clients.append(sock)
    time.sleep(1)
    _health_is_quick(server)
    grown = _rss_mb(SERVER["pid"]) - before
    for sock in clients:
        sock.close()
    assert grown < 150 * _BUNDLE_BYTES * 1.5 / 1e6, f"the server grew by {grown:.0f} MB"


def test_an_upgrade_or_connect_is_answered_as_plain_http_1(server: tuple[str, int]) -> None:
    """No protocol switch: an Upgrade is ignored (RFC 9110, 7.8), a CONNECT is a 405, and the request
    pipelined after either is read as a request of its own, answered in order."""
    for first in (
        b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        b"GET /lead/ld_123 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        b"CONNECT /lead/ld_123 HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        sock = _open(server, first + b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = _answer(sock)
        sock.close()
        statuses = [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]
        assert len(statuses) == 2, answer[:300]
        assert statuses[0] in (200, 401, 405), answer[:300]
        assert statuses[1] == 200, answer[:300]


def test_a_body_behind_an_upgrade_is_never_run_as_a_request(server: tuple[str, int]) -> None:
    smuggled = f'PUT /lead/ld_123 HTTP/1.1\r\n{HEAD}Content-Length: 27\r\n\r\n{{"owner_name":"Smuggled X"}}'.encode()
    head = (
        f"POST /ingest HTTP/1.1\r\n{HEAD}Connection: Upgrade\r\nUpgrade: foo\r\nContent-Length: {len(smuggled)}\r\n\r\n"
    )
    sock = _open(server, head.encode())
    time.sleep(0.3)
    with contextlib.suppress(OSError):
        sock.sendall(smuggled)
    _answer(sock)
    sock.close()
    url = f"http://{server[0]}:{server[1]}/lead/ld_123"
    assert (
        requests.get(url, headers={"Authorization": "Bearer kbn_pat_demo"}, timeout=5).json()["owner_name"]
        == "Jane Smith"
    )


def test_a_failure_header_with_digits_that_are_not_ascii_is_a_400(server: tuple[str, int]) -> None:
    sock = _open(
        server,
        f"GET /lead/ld_123 HTTP/1.1\r\n{HEAD}Connection: close\r\n".encode() + b"X-Mock-Fail: \xb2\xb2\xb2\r\n\r\n",
    )
    answer = _answer(sock)
    sock.close()
    got, problem = _problem_of(answer)
    assert (got, problem["type"]) == (400, "/problems/validation-error")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for the server's memory")
def test_pipelining_without_reading_holds_bounded_memory(server: tuple[str, int]) -> None:
    """A client that pipelines requests for ever and reads nothing: granian reads its next request only
    once the answer before it is written, so the mock holds one answer and stops reading."""
    before = _rss_mb(SERVER["pid"])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(server)
    sock.settimeout(0.2)
    burst = b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n\r\n" * 1_000
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < 5:
        try:
            sent += sock.send(burst)
        except TimeoutError:
            continue
    _health_is_quick(server)
    grown = _rss_mb(SERVER["pid"]) - before
    sock.close()
    assert grown < 40, f"the server grew by {grown:.0f} MB"
    assert sent < 64 * 1024 * 1024, "the server kept reading a client that reads nothing"


@pytest.mark.parametrize("pipelined", [False, True], ids=["alone", "behind-a-slow-request"])
def test_a_broken_chunk_is_a_400_at_once_and_nothing_is_applied(server: tuple[str, int], pipelined: bool) -> None:
    """Bytes after a chunk that are not its CRLF: the request can never be whole, so the problem is its
    answer at once (it was the body deadline's 408, seconds later), after any answer owed before it."""
    before = b"GET /lead/ld_123 HTTP/1.1\r\n" + HEAD.encode() + b"X-Mock-Delay: 300\r\n\r\n" if pipelined else b""
    broken = f"PUT /lead/ld_123 HTTP/1.1\r\n{HEAD}Transfer-Encoding: chunked\r\n\r\n".encode()
    started = time.monotonic()
    sock = _open(server, before + broken + b'1b\r\n{"owner_name":"Broken Chunk"}XX')
    answer = _answer(sock)
    sock.close()
    assert time.monotonic() - started < BODY_TIMEOUT
    statuses = [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]
    assert statuses == ([200, 400] if pipelined else [400])
    got, problem = _problem_of(answer[answer.rindex(b"HTTP/1.1 400") :])
    assert (got, problem["type"]) == (400, "/problems/malformed-request")
    url = f"http://{server[0]}:{server[1]}/lead/ld_123"
    assert (
        requests.get(url, headers={"Authorization": "Bearer kbn_pat_demo"}, timeout=5).json()["owner_name"]
        == "Jane Smith"
    )


def test_a_slow_reader_that_makes_progress_is_served_to_the_end(server: tuple[str, int]) -> None:
    """Cut off is a client that takes nothing for the timeout, not one that reads slowly:
    three bundles (4.2 MB, more than the kernel buffers) read 16 KB at a time, for several times the
    timeout, arrive whole."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
    sock.connect(server)
    sock.sendall(b"GET /docs/static/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
    sock.settimeout(10)
    received = b""
    started = time.monotonic()
    while received.count(b"HTTP/1.1 200") < 3 or len(received) < 3 * _BUNDLE_BYTES:
        chunk = sock.recv(16_384)
        if not chunk:
            break
        received += chunk
        time.sleep(0.02)
    sock.close()
    assert time.monotonic() - started > BODY_TIMEOUT  # slower than the timeout: it would have been cut
    assert received.count(b"HTTP/1.1 200") == 3
    assert len(received) >= 3 * _BUNDLE_BYTES


_BUNDLE_BYTES = (DIST / "swagger-ui-bundle.js").stat().st_size


def test_a_head_over_the_mocks_limits_is_in_the_journal(server: tuple[str, int]) -> None:
    """A front-end developer whose browser sends 40 KB of cookies sees the 431 in the mock's log and in
    /_mock/requests, not only in the browser."""
    sock = _open(
        server, b"GET /leads?who=cookies HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * HEADER_BYTES_LIMIT + b"\r\n\r\n"
    )
    _answer(sock)
    sock.close()
    entries = requests.get(f"http://{server[0]}:{server[1]}/_mock/requests?limit=5", timeout=5).json()["requests"]
    refused = [entry for entry in entries if entry["status"] == 431]
    assert refused, entries
    assert refused[0]["path"].startswith("/leads?who=cookies")
    assert refused[0]["method"] == "GET"
    assert str(refused[0]["verdict"]).startswith("rejected")
