"""The load: the requests the benchmark sends, and wrk, which sends them and measures.

Each request is defined once for both wrk and the pre-flight check: the pre-flight check sends the
very request wrk will send (same method, headers and body bytes, none of requests' default headers),
so a server that would answer wrk with an error is caught before any number is taken.

wrk prints durations with a unit it picks per value (`812.00us`, `3.21ms`, `1.02s`, `1.50m`), so every
latency is parsed with its unit and converted to milliseconds. A report without the lines the benchmark
relies on is an error, never a zero. wrk itself is installed with apt-get on first use when missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.common import MissingPrerequisite, say

TOKEN = "kbn_pat_demo"
AUTH_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
# Headers requests adds by default and wrk does not send; None removes them from the request.
_NOT_SENT_BY_WRK: dict[str, str | None] = {"Accept": None, "Accept-Encoding": None, "User-Agent": None}


class PreflightFailed(Exception):
    """A server answered a benchmark request with something other than 2xx."""


@dataclass(frozen=True)
class Call:
    """One HTTP request of the benchmark; `label` names it in the report."""

    method: str
    path: str
    body: str | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def headers(self) -> dict[str, str]:
        """Every header besides Host, Content-Length and Connection (which wrk and requests add)."""
        if self.body is None:
            return dict(AUTH_HEADERS)
        return {**AUTH_HEADERS, "Content-Type": "application/json"}

    def lua_script(self) -> str | None:
        """The wrk script that sets method and body, or None for a plain GET (wrk's default)."""
        if self.method == "GET" and self.body is None:
            return None
        lines = [f"wrk.method = {_lua_string(self.method)}"]
        if self.body is not None:
            lines.append(f"wrk.body = {_lua_string(self.body)}")
        return "\n".join(lines) + "\n"


def _lua_string(text: str) -> str:
    """A Lua long-bracket literal, which needs no escaping; its level avoids any `]=*]` in the text."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


GET_LEAD = Call("GET", "/lead/ld_123")
PUT_LEAD = Call("PUT", "/lead/ld_123", json.dumps({"owner_name": "Jane Smith", "metadata": {"company": "Acme Corp"}}))
LIST_LEADS = Call("GET", "/leads")
LIST_FILTERED = Call("GET", "/leads?min_score=100&page=3")
# The list filters served from the store's indexes (mock_server/leads/lead_index.py): each must stay within 2x of
# the unfiltered list at 100,000 leads.
LIST_BY_TYPE = Call("GET", "/leads?event_type=page_view")
LIST_ACTIVE = Call("GET", "/leads?last_active=7d")
LIST_CREATED = Call("GET", "/leads?range=last_30d")
LIST_COMBINED = Call("GET", "/leads?event_type=page_view&last_active=30d&min_score=10")


def preflight(base_url: str, call: Call, timeout_s: float = 10.0) -> int:
    """Send `call` once; raise PreflightFailed unless the answer is 2xx. Returns the body's size in bytes."""
    try:
        response = requests.request(
            call.method,
            base_url + call.path,
            headers={**_NOT_SENT_BY_WRK, **call.headers},
            data=None if call.body is None else call.body.encode(),
            timeout=timeout_s,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise PreflightFailed(f"{call.label}: no answer ({exc})") from exc
    if not 200 <= response.status_code < 300:
        raise PreflightFailed(f"{call.label}: HTTP {response.status_code} {response.text[:300]!r}")
    return len(response.content)


_MS_PER_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)"
_PERCENTILE = re.compile(rf"^\s*(50|75|90|99)(?:\.0+)?%\s+{_DURATION}\s*$", re.MULTILINE)
_TOTAL = re.compile(rf"^\s*(\d+) requests in {_DURATION},", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
)
_BAD_STATUS = re.compile(r"Non-2xx or 3xx responses: (\d+)")


class WrkError(Exception):
    """wrk failed, or printed a report this module cannot read."""


@dataclass(frozen=True)
class WrkSettings:
    """Load shape of every run. One wrk thread: on 2 cores wrk must leave the server a core of its own.
    Sixteen connections (issue #19's comparison) keep each server busy. The warm-up is long enough for Prism's
    JIT (V8) to reach its steady state, which takes it about 4 s of load."""

    threads: int = 1
    connections: int = 16
    duration_s: float = 8.0
    warmup_s: float = 4.0
    timeout_s: float = 5.0
    repeat: int = 1  # measured runs per request after the warm-up; the median one is reported


@dataclass(frozen=True)
class WrkResult:
    """One wrk run. `bad_status` counts responses of status 400 and above (wrk's 'Non-2xx or 3xx')."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    bad_status: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    @property
    def errors(self) -> int:
        return self.bad_status + self.socket_errors

    def error_summary(self) -> str:
        return (
            f"{self.bad_status} non-2xx, socket errors: connect {self.connect_errors}, read {self.read_errors}, "
            f"write {self.write_errors}, timeout {self.timeouts} (of {self.requests} requests)"
        )


def to_ms(value: str, unit: str) -> float:
    return float(value) * _MS_PER_UNIT[unit]


def parse(output: str) -> WrkResult:
    """The numbers of a `wrk --latency` report."""
    percentiles = {int(match[1]): to_ms(match[2], match[3]) for match in _PERCENTILE.finditer(output)}
    total, rate = _TOTAL.search(output), _RATE.search(output)
    if total is None or rate is None or not {50, 75, 90, 99} <= percentiles.keys():
        raise WrkError(f"unreadable wrk report:\n{output}")
    socket_errors = _SOCKET_ERRORS.search(output)  # printed only when there are some
    connect, read, write, timeout = (int(n) for n in socket_errors.groups()) if socket_errors else (0, 0, 0, 0)
    bad_status = _BAD_STATUS.search(output)  # likewise
    return WrkResult(
        requests=int(total[1]),
        seconds=to_ms(total[2], total[3]) / 1000,
        rps=float(rate[1]),
        p50_ms=percentiles[50],
        p75_ms=percentiles[75],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        bad_status=int(bad_status[1]) if bad_status else 0,
        connect_errors=connect,
        read_errors=read,
        write_errors=write,
        timeouts=timeout,
    )


def run(base_url: str, call: Call, settings: WrkSettings, seconds: float, script_dir: Path) -> WrkResult:
    """Load `call` on `base_url` for `seconds` and return what wrk measured."""
    command = [
        "wrk",
        f"--threads={settings.threads}",
        f"--connections={settings.connections}",
        f"--duration={seconds:g}s",
        f"--timeout={settings.timeout_s:g}s",
        "--latency",
    ]
    for name, value in call.headers.items():
        command += ["--header", f"{name}: {value}"]
    script = call.lua_script()
    if script is not None:
        path = script_dir / f"{call.method.lower()}-{hashlib.sha256(script.encode()).hexdigest()[:12]}.lua"
        path.write_text(script, encoding="utf-8")
        command += ["--script", str(path)]
    command.append(base_url + call.path)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish within {seconds + 60:g} s") from exc
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)


def ensure_wrk() -> str:
    """The path of wrk, installed with apt-get when missing and running as root."""
    found = shutil.which("wrk")
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise MissingPrerequisite(
            "wrk is not installed and cannot be installed from here (needs root and apt-get); "
            "install it (Debian: `sudo apt-get install wrk`) and rerun"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "install", "-y", "wrk"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "wrk"],
    ):
        say(" ".join(command))
        subprocess.run(command, env=env, stdout=sys.stderr, stderr=sys.stderr, check=False)
        found = shutil.which("wrk")
        if found is not None:
            return found
    raise MissingPrerequisite("wrk is missing and `apt-get install -y wrk` did not install it")
