"""A live run spread over a few pytest-xdist workers, so that several requests are in flight at once.

Against a slow network a run of one request at a time costs the network's latency per request; with
LEADVIBE_CONCURRENCY workers, each a process running some of the tests, the run waits on the rate limit
instead. What makes that safe:

- one rate and one budget: the workers draw every request from the same counters (contracts.throttle);
- each worker owns its own leads (run id `<run>-gw<n>`, so markers stay the run's) and proves them;
- a run that cannot have a lead says so once, whichever worker finds it (contracts.blockage);
- a contract that compares several reads holds a section in which no worker writes (contracts.quiet);
- the runner cleans what earlier runs left before any worker starts, and each worker cleans its own;
- a SIGTERM or Ctrl-C reaches every worker, which stops its test, cleans up and reports; the runner
  waits for them; a worker whose runner is gone (SIGKILL) stops at once, leaving the ledger to the next run;
- what a worker knows besides pass or fail (retries, refusals, drift) travels to the runner's report,
  and every report is scrubbed of credentials in the worker, before it leaves.

`Fanout` is the runner's side; `Worker`, set up by the suite's conftest in each worker, the worker's.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from contracts.blockage import Blockage
from contracts.plugin import RUN_KEY, TargetPlugin
from contracts.quiet import Quiet
from contracts.redact import Redactor
from contracts.target import target_from_env
from contracts.throttle import Throttle

KEY = "leadvibe"  # the run's entry in xdist's workerinput and workeroutput


@dataclasses.dataclass
class RunFolder:
    """Where the workers of one run meet: the shared counters, the blockage, the workers' pids."""

    path: Path

    @property
    def throttle(self) -> Path:
        return self.path / "throttle"

    @property
    def blockage(self) -> Path:
        return self.path / "blocked"

    def pid_file(self, worker: str) -> Path:
        return self.path / f"{worker}.pid"

    def worker_pids(self) -> list[int]:
        pids = []
        for file in self.path.glob("*.pid"):
            try:
                pids.append(int(file.read_text(encoding="ascii")))
            except (OSError, ValueError):
                continue
        return pids


class Fanout:
    """The runner's side: tells each worker its run, collects what the workers report, relays signals."""

    def __init__(self, folder: RunFolder, run_id: str) -> None:
        self._folder = folder
        self._run_id = run_id
        self.facts: list[dict[str, Any]] = []
        self.signalled: int | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[KEY] = {"folder": str(self._folder.path), "run_id": self._run_id}

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        facts = getattr(node, "workeroutput", {}).get(KEY)
        if facts is not None:
            self.facts.append(facts)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        """A worker stopped by the run's own interruption did not crash: its test was cut short."""
        if self.signalled is not None:
            report.outcome = "skipped"
            report.when = "call"
            path = crashitem.partition("::")[0]
            report.longrepr = (path, 0, f"interrupted (signal {self.signalled}) before it ended")

    def relay(self, number: int, frame: FrameType | None) -> None:
        """SIGTERM or SIGINT in the runner: every worker stops its test and cleans up; the runner waits."""
        if self.signalled is not None:
            print(f"leadvibe-contracts: the workers are cleaning up; signal {number} noted", file=sys.stderr)
            return
        self.signalled = number
        print(f"leadvibe-contracts: signal {number}: stopping the workers, which clean up", file=sys.stderr)
        for pid in self._folder.worker_pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue


class Worker:
    """One worker's side: its own target and leads, the shared counters, reports scrubbed before they leave."""

    def __init__(self, config: pytest.Config, given: dict[str, Any]) -> None:
        worker = str(config.workerinput["workerid"])  # type: ignore[attr-defined]
        self._config = config
        self.folder = RunFolder(Path(given["folder"]))
        live = target_from_env({**os.environ, "LEADVIBE_TARGET": "live"})
        run = given["run_id"]
        self.target = dataclasses.replace(live, run_id=f"{run}-{worker}", state_run=run, concurrency=1)
        self.plugin = TargetPlugin(
            self.target,
            throttle=Throttle.attach(self.folder.throttle),
            blockage=Blockage(self.folder.blockage),
            quiet=Quiet(self.folder.path),
            lost=Blockage(self.folder.path / "lost"),
        )
        self.folder.pid_file(worker).write_text(str(os.getpid()), encoding="ascii")
        self._interrupted = False
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._interrupt)
        threading.Thread(target=self._orphaned, args=(os.getppid(),), daemon=True).start()

    def _interrupt(self, number: int, frame: FrameType | None) -> None:
        """The first signal stops the test (clean-up follows, in teardown); later ones are only noted."""
        if self._interrupted:
            return
        self._interrupted = True
        raise KeyboardInterrupt(f"signal {number}")

    @staticmethod
    def _orphaned(parent: int) -> None:
        """A runner killed outright (SIGKILL) takes its workers with it: none keeps sending requests."""
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(70)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """After the session's teardown (clean-up): what the run did, for the runner's report; and no lock of
        a quiet section is left held (an interruption may strike inside one), or another worker waits for ever."""
        self.plugin.quiet.release()
        run = session.config.stash.get(RUN_KEY, None)
        if run is not None:
            self._config.workeroutput[KEY] = run.facts()  # type: ignore[attr-defined]


def configure_worker(config: pytest.Config) -> None:
    """In a worker of a fanned-out run (the suite's conftest calls this): its target, the credentials'
    redaction, the failure causes and the findings."""
    given = getattr(config, "workerinput", {}).get(KEY)
    if given is None:
        return
    from contracts.findings import Recorder  # what failed, and why, is named here, where it happened
    from contracts.outcome import Outcome

    worker = Worker(config, given)
    redactor = Redactor(worker.target.secrets)
    for plugin in (worker.plugin, worker, redactor, Outcome(), Recorder(redactor)):
        config.pluginmanager.register(plugin)
