"""Who used the CPU during a run: the server, wrk, and everything else on the machine.

On a shared 2-core machine a busy neighbour skews every number, and the load average notices too late
and too vaguely. Comparing the machine's busy time (/proc/stat) with the server group's and wrk's own
CPU time tells, per run, how much CPU went to other processes: a run with much of it is flagged.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from bench.processes import group_members

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


def sample(pgid: int) -> _Sample:
    """CPU seconds so far: the machine's busy time, the server group's, and this process's reaped children."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields[:8]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return _Sample(time.monotonic(), busy / _TICKS, _group_cpu(pgid), usage.ru_utime + usage.ru_stime)


def between(before: _Sample, after: _Sample) -> CpuUse:
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
