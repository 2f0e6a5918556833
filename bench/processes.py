"""Servers under test as child processes: each in a session of its own, always killed as a whole group.

A server may fork (node), so the harness never kills a pid: it signals the process
group and waits until no member is left. `serve` does this on every way out of its block, and
`install_cleanup` covers Ctrl+C, SIGTERM, SIGHUP and interpreter exit.

The group is also what is measured besides wrk's numbers: its memory (/proc/PID/smaps_rollup) and who
used the CPU during a run. On a shared 2-core machine a busy neighbour skews every number, and the load
average notices too late and too vaguely; comparing the machine's busy time (/proc/stat) with the server
group's and wrk's own CPU time tells, per run, how much CPU went to other processes: a run with much of
it is flagged.
"""

from __future__ import annotations

import atexit
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from bench.common import REPO_ROOT

_LIVE_GROUPS: set[int] = set()


class ServerFailed(Exception):
    """A server exited, or did not become ready in time."""


@dataclass(frozen=True)
class Launch:
    """How to start one server and how to tell that it is ready."""

    name: str
    command: Callable[[int], list[str]]  # the argv, given the port to listen on
    ready_path: str = "/_mock/health"
    ready_headers: tuple[tuple[str, str], ...] = ()
    ready_timeout_s: float = 60.0


@dataclass(frozen=True)
class Running:
    """A started server: its process (the group leader), address, log and start time."""

    launch: Launch
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    started_at: float  # time.perf_counter() just before the launch


@dataclass(frozen=True)
class Ready:
    seconds: float  # from launch to the first 200 on the ready path
    body: Any  # the ready answer's JSON (None when not JSON)


@dataclass(frozen=True)
class Memory:
    """Memory of a server's whole process group, from /proc. PSS shares forked pages fairly; RSS counts
    a page once per process that maps it."""

    rss_kib: int
    pss_kib: int
    processes: int


def free_port() -> int:
    """An ephemeral port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(launch: Launch, log_dir: Path) -> Iterator[Running]:
    """Start `launch` on a free port, its output in `log_dir`; kill its whole group on leaving."""
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = log_dir / f"{''.join(c if c.isalnum() else '-' for c in launch.name)}.log"
    with log_path.open("wb") as log:
        started_at = time.perf_counter()
        process = subprocess.Popen(
            launch.command(port),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _LIVE_GROUPS.add(process.pid)
        try:
            yield Running(launch, process, f"http://127.0.0.1:{port}", log_path, started_at)
        finally:
            stop_group(process.pid)
            process.wait(timeout=10)  # reaped, so no zombie is left either
            _LIVE_GROUPS.discard(process.pid)


def wait_ready(server: Running, poll_s: float = 0.02) -> Ready:
    """Poll the ready path until it answers 200; ServerFailed if the server exits or times out."""
    launch = server.launch
    deadline = server.started_at + launch.ready_timeout_s
    url = server.base_url + launch.ready_path
    while True:
        code = server.process.poll()
        if code is not None:
            raise ServerFailed(f"{launch.name} exited with status {code} before it was ready: {log_tail(server)}")
        try:
            response = requests.get(url, headers=dict(launch.ready_headers), timeout=1.0)
        except requests.RequestException:
            response = None
        if response is not None and response.status_code == 200:
            seconds = time.perf_counter() - server.started_at
            try:
                return Ready(seconds, response.json())
            except ValueError:
                return Ready(seconds, None)
        if time.perf_counter() > deadline:
            raise ServerFailed(f"{launch.name} was not ready within {launch.ready_timeout_s:g} s: {log_tail(server)}")
        time.sleep(poll_s)


def log_tail(server: Running, lines: int = 5) -> str:
    text = server.log_path.read_text(encoding="utf-8", errors="replace").strip()
    return " | ".join(text.splitlines()[-lines:]) or "(no output)"


def group_members(pgid: int) -> list[int]:
    """The pids whose process group is `pgid`, read from /proc/PID/stat."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def group_memory(pgid: int) -> Memory:
    rss = pss = count = 0
    for pid in group_members(pgid):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        values = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines() if line.endswith(" kB")}
        rss, pss, count = rss + values["Rss"], pss + values["Pss"], count + 1
    return Memory(rss_kib=rss, pss_kib=pss, processes=count)


def stop_group(pgid: int, grace_s: float = 10.0) -> None:
    """SIGTERM to the group, SIGKILL to whatever is left after `grace_s`; return when no member is left."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not _alive(group_members(pgid)):
                return
            time.sleep(0.05)


def _alive(pids: list[int]) -> bool:
    """Whether any of `pids` is still running (zombies, which only wait for their parent, are not)."""
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            return True
    return False


def install_cleanup() -> None:
    """Kill every live server group on interpreter exit, and turn SIGTERM/SIGHUP into SystemExit so
    the `finally` blocks run as they do for Ctrl+C."""
    atexit.register(_stop_all)

    def exit_on(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, exit_on)


def _stop_all() -> None:
    for pgid in list(_LIVE_GROUPS):
        stop_group(pgid)
        _LIVE_GROUPS.discard(pgid)


# CPU accounting of a run.
_TICKS = os.sysconf("SC_CLK_TCK")
# Other processes' CPU above this share of one core makes a run suspect.
NOISY_CORES = 0.15


@dataclass(frozen=True)
class CpuUse:
    """Average cores used during a run (1.0 = one core busy all the time)."""

    server: float
    wrk: float
    other: float

    @property
    def noisy(self) -> bool:
        return self.other > NOISY_CORES


@dataclass(frozen=True)
class _Sample:
    wall: float
    machine_busy: float
    group: float
    children: float


def cpu_sample(pgid: int) -> _Sample:
    """CPU seconds so far: the machine's busy time, the server group's, and this process's reaped children."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields[:8]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return _Sample(time.monotonic(), busy / _TICKS, _group_cpu(pgid), usage.ru_utime + usage.ru_stime)


def cpu_between(before: _Sample, after: _Sample) -> CpuUse:
    """The cores used by the server, by wrk (the only child reaped in between) and by all others."""
    wall = after.wall - before.wall
    server = (after.group - before.group) / wall
    wrk = (after.children - before.children) / wall
    busy = (after.machine_busy - before.machine_busy) / wall
    return CpuUse(server=round(server, 3), wrk=round(wrk, 3), other=round(max(0.0, busy - server - wrk), 3))


def _group_cpu(pgid: int) -> float:
    total = 0
    for pid in group_members(pgid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _TICKS
