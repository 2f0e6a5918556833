"""One rate and one budget for a whole run, whether it runs in one process or in several workers."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from contracts.blockage import Blockage
from contracts.quiet import Quiet
from contracts.throttle import HEADROOM, BudgetExhausted, Throttle

pytestmark = pytest.mark.slow  # servers, processes or a browser: make test, not make test-fast


def _spend(path: str, cleaning: bool, book: int) -> tuple[int, list[float]]:
    """In another process: book, then acquire until the budget says no; (requests, their times)."""
    throttle = Throttle.attach(Path(path))
    if book:
        throttle.book(book)
    if cleaning:
        throttle.start_cleanup()
    times: list[float] = []
    while True:
        try:
            throttle.acquire()
        except BudgetExhausted:
            return len(times), times
        times.append(time.monotonic())


def _in_processes(path: Path, *plans: tuple[bool, int]) -> list[tuple[int, list[float]]]:
    with multiprocessing.get_context("spawn").Pool(len(plans)) as pool:
        return pool.starmap(_spend, [(str(path), cleaning, book) for cleaning, book in plans])


def test_workers_share_one_budget(tmp_path: Path) -> None:
    shared = Throttle(rate=10_000, budget=60, shared_at=tmp_path / "throttle")
    shared.acquire()  # the runner's own request (the preflight) counts too
    results = _in_processes(tmp_path / "throttle", (False, 0), (False, 0), (False, 0))
    assert sum(count for count, _ in results) == 59
    assert shared.used == 60
    with pytest.raises(BudgetExhausted):
        shared.acquire()


def test_workers_share_one_rate(tmp_path: Path) -> None:
    Throttle(rate=40, budget=90, shared_at=tmp_path / "throttle")
    results = _in_processes(tmp_path / "throttle", (False, 0), (False, 0), (False, 0))
    times = sorted(t for _, worker_times in results for t in worker_times)
    assert len(times) == 90
    # Three workers together, never ahead of the run's one rate: the i-th request of the run leaves no
    # earlier than i - 1 slots of (1 + HEADROOM)/40 s after the first (a busy machine can only make them
    # later, but it may note the first one late: one slot of slack; the last one is held to 88 slots too) ...
    slot = (1 + HEADROOM) / 40
    early = [i for i, t in enumerate(times) if t - times[0] < (i - 1) * slot - 0.002]
    assert not early, [round(times[i] - times[0], 3) for i in early[:5]]
    # ... so no one-second window holds more than 40 of them.
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 40
    assert all(count > 0 for count, _ in results)  # and each of them was served


def test_a_workers_cleanup_reserve_is_kept_from_the_others(tmp_path: Path) -> None:
    Throttle(rate=10_000, budget=50, shared_at=tmp_path / "throttle")
    (booked,) = _in_processes(tmp_path / "throttle", (False, 10))  # books 10, then spends the other 40
    assert booked[0] == 40
    others = _in_processes(tmp_path / "throttle", (False, 0), (False, 0))
    assert [count for count, _ in others] == [0, 0]  # the reserve is not theirs to spend
    (cleaning,) = _in_processes(tmp_path / "throttle", (True, 0))
    assert cleaning[0] == 10  # clean-up spends it


def test_the_reason_a_run_is_blocked_is_claimed_once_across_workers(tmp_path: Path) -> None:
    first, second = Blockage(tmp_path / "blocked"), Blockage(tmp_path / "blocked")
    before = second.reason
    assert before is None
    assert first.claim("ingest dropped")
    assert not second.claim("ingest dropped, seen again")
    assert second.reason == "ingest dropped"  # the first reason, read by another worker
    assert not Blockage().reason
    alone = Blockage()
    assert alone.claim("x")
    assert not alone.claim("y")


def test_a_quiet_section_left_held_by_an_interruption_is_released_at_the_end_of_the_session(tmp_path: Path) -> None:
    """A signal between taking the gate and the block that frees it left a worker idle but holding it, and
    another worker's write waited for ever (a run hung on SIGTERM): the worker lets go when its session ends."""
    holder, writer = Quiet(tmp_path), Quiet(tmp_path)  # two workers' views of the run's folder
    held = holder.section()
    held.__enter__()  # entered, never left (kept referenced: a collected generator would let go)
    done = threading.Event()

    def write() -> None:
        with writer.writing():
            done.set()

    threading.Thread(target=write, daemon=True).start()
    assert not done.wait(0.3)  # the write waits while the section is held ...
    holder.release()  # ... what the worker's session end does (contracts.fanout)
    assert done.wait(5)
