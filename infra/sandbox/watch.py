"""A line per execution as it starts and as it ends, from whatever started it (``python -m infra serve``).

``ExecutionWatcher`` polls ``ListExecutions`` of every state machine in the emulator (as the
operator) on a thread of its own and reports each execution it has not seen, and each one it saw
running that has ended, with its status, its duration (Step Functions' start and stop dates, on
the sandbox clock) and, when it failed, its error. An execution that starts and ends between two
polls gets both lines; within a poll, starts come in the order of their start dates across state
machines (a router before the run it starts), then ends in the order of their stop dates.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.sandbox.core import Sandbox

POLL_S = 0.2
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class ExecutionLine:
    """One execution starting or ending."""

    event: str  # "started", or the terminal status
    state_machine: str
    name: str
    arn: str
    duration_s: float | None = None
    error: str | None = None

    def __str__(self) -> str:
        clock = datetime.datetime.now().strftime("%H:%M:%S")
        text = f"{clock}  {self.event:<9}  {self.state_machine}  {self.name}"
        if self.duration_s is not None:
            text += f"  {self.duration_s:.2f}s"
        if self.error:
            text += f"  {self.error}"
        return text


class ExecutionWatcher:
    """Reports executions starting and ending (see module doc)."""

    def __init__(self, sandbox: Sandbox, report: Callable[[ExecutionLine], None], poll_s: float = POLL_S):
        self.sandbox = sandbox
        self.report = report
        self.poll_s = poll_s
        self._running: set[str] = set()
        self._ended: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> None:
        """Report what changed since the last poll."""
        sfn = self.sandbox.client("stepfunctions")
        listed = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"])
            listed += [(machine["name"], e) for page in pages for e in page["executions"]]
        fresh = [(m, e) for m, e in listed if e["executionArn"] not in self._ended]
        for machine, execution in sorted(fresh, key=lambda pair: pair[1]["startDate"]):
            if execution["executionArn"] not in self._running:
                self._running.add(execution["executionArn"])
                self.report(ExecutionLine("started", machine, execution["name"], execution["executionArn"]))
        ended = [(m, e) for m, e in fresh if e["status"] in TERMINAL]
        for machine, execution in sorted(ended, key=lambda pair: pair[1].get("stopDate") or pair[1]["startDate"]):
            self._running.discard(execution["executionArn"])
            self._ended.add(execution["executionArn"])
            self.report(self._ending(sfn, machine, execution))

    @staticmethod
    def _ending(sfn, machine: str, execution: dict) -> ExecutionLine:
        stop = execution.get("stopDate")
        duration = (stop - execution["startDate"]).total_seconds() if stop else None
        error = None
        if execution["status"] != "SUCCEEDED":
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            error = described.get("error") or None
        arn = execution["executionArn"]
        return ExecutionLine(execution["status"], machine, execution["name"], arn, duration, error)

    def start(self) -> ExecutionWatcher:
        self._thread = threading.Thread(target=self._run, name="sandbox-executions", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - moto's lists change under the poll; the next one sees them
                continue

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
