"""The sandbox clock: virtual time for the ASL interpreter and the functions, advanced instead of slept.

moto's interpreter sleeps for real: a ``Wait`` state, the pause between retries, a task's
``TimeoutSeconds``, a callback's ``HeartbeatSeconds`` and the execution's own timeout all block
on wall time, so a 24-hour approval wait would take 24 hours. In the sandbox:

- **Pauses pass at once.** A Wait state, a retry interval, and a function's ``clock.sleep``
  (``pipelines/common/clock.py``, e.g. waiting out a Retry-After) move the clock forward by
  their length and return: the schedule is the definition's, its cost is nothing.
- **Deadlines are on the clock.** Task and heartbeat timeouts, callback waits and the
  execution's TimeoutSeconds expire when the clock passes them: as real time goes by, or at
  once when a test (or ``python -m infra run``) calls ``advance``.
- **Timestamps are the clock's.** History events, ``$$.State.EnteredTime``, an execution's
  start and stop dates, and what functions read from ``clock.now()``.

The clock is real time plus an offset that only grows. Pauses taken concurrently (two Parallel
branches retrying at once) may add up rather than overlap; nothing in the pipelines relies on that.
"""

from __future__ import annotations

import datetime as _datetime
import threading
import time
import types
from collections.abc import Callable

from moto.stepfunctions.parser import models
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program import program
from moto.stepfunctions.parser.asl.component.state import state
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp, wait_function
from moto.stepfunctions.parser.asl.eval.callback import callback
from moto.stepfunctions.parser.asl.eval.event import event_manager
from moto.stepfunctions.parser.backend import execution

from pipelines.common import clock as function_clock

# How often a wait re-reads the clock (it may have been advanced).
POLL_S = 0.01
# Modules of the interpreter whose ``datetime.datetime.now()`` must read the clock.
_TIMESTAMPED = (event_manager, state, models, execution, timestamp, branches_decl)


class SandboxClock:
    """Real time plus an offset that ``advance`` and pauses move forward."""

    def __init__(self):
        self._offset = 0.0
        self._lock = threading.Lock()
        self.pauses: list[float] = []  # every pause taken on the clock, in order, in seconds

    def time(self) -> float:
        """Seconds since the epoch, on the clock."""
        return time.time() + self._offset

    def now(self, tz: _datetime.tzinfo | None = None) -> _datetime.datetime:
        """``datetime.now(tz)`` on the clock."""
        return _datetime.datetime.now(tz) + _datetime.timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        """Move the clock forward: every deadline it passes expires (within ``POLL_S``)."""
        if seconds < 0:
            raise ValueError("the clock only goes forward")
        with self._lock:
            self._offset += seconds

    def advance_to(self, when: float) -> None:
        """Move the clock forward to ``when`` (epoch seconds), if it is not there yet."""
        with self._lock:
            self._offset += max(0.0, when - self.time())

    def pause(self, seconds: float) -> None:
        """A pause that passes at once: the clock moves past its end (a sleep, a Wait state, a retry)."""
        seconds = max(0.0, float(seconds))
        self.pauses.append(seconds)
        self.advance_to(self.time() + seconds)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """``event.wait(timeout)`` with the timeout on the clock; True if the event was set."""
        if timeout is None:
            return _PlainEvent.wait(event)
        deadline = self.time() + timeout
        while True:
            remaining = deadline - self.time()
            if remaining <= 0:
                return event.is_set()
            if _PlainEvent.wait(event, min(remaining, POLL_S)):
                return True

    def join(self, thread: threading.Thread, timeout: float | None) -> None:
        """``thread.join(timeout)`` with the timeout on the clock."""
        if timeout is None:
            thread.join()
            return
        deadline = self.time() + timeout
        while thread.is_alive() and self.time() < deadline:
            thread.join(min(POLL_S, max(0.0, deadline - self.time())))


_PlainEvent = threading.Event
_active: SandboxClock | None = None


def active() -> SandboxClock | None:
    """The clock of the running sandbox, if any."""
    return _active


class _ClockEvent(threading.Event):
    """A threading.Event whose timed waits run on the active clock."""

    def wait(self, timeout: float | None = None) -> bool:
        clock = _active
        if clock is None:
            return super().wait(timeout)
        return clock.wait(self, timeout)


def _module_with(module: types.ModuleType, **replaced) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{**vars(module), **replaced})


class _ClockDatetime(_datetime.datetime):
    """``datetime.datetime`` whose ``now`` reads the active clock (for the interpreter's timestamps)."""

    @classmethod
    def now(cls, tz=None):
        clock = _active
        return clock.now(tz) if clock is not None else _datetime.datetime.now(tz)


def _wait_interval(self, env, wait_seconds: int) -> None:
    # A Wait state: the clock moves past it (moto waited on an event for real).
    _active.pause(wait_seconds)


def _program_eval(self, env) -> None:
    # As moto's Program.eval, but the execution's TimeoutSeconds is on the clock.
    timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
    env.next_state_name = self.start_at.start_at_name
    worker = threading.Thread(target=super(program.Program, self).eval, args=(env,), daemon=True)
    program.TMP_THREADS.append(worker)
    worker.start()
    _active.join(worker, timeout)
    if worker.is_alive():
        env.set_timed_out()


def install(clock: SandboxClock, on_pause: Callable[[float], None] | None = None) -> Callable[[], None]:
    """Put the interpreter and the functions on ``clock``; returns the undo.

    ``on_pause`` also hears each retry interval (``interpreter.RETRY_WAITS`` records them).
    """
    global _active
    _active = clock
    saved: list[tuple[object, str, object]] = []

    def patch(owner: object, name: str, value: object) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def retry_pause(seconds: float) -> None:
        if on_pause is not None:
            on_pause(seconds)
        clock.pause(seconds)

    patch(retrier_decl, "time", types.SimpleNamespace(sleep=retry_pause))
    patch(wait_function.WaitFunction, "_wait_interval", _wait_interval)
    patch(program.Program, "eval", _program_eval)
    patch(execute_state, "threading", _module_with(threading, Event=_ClockEvent))
    patch(callback, "Event", _ClockEvent)
    clock_datetime = _module_with(_datetime, datetime=_ClockDatetime)
    for module in _TIMESTAMPED:
        patch(module, "datetime", clock_datetime)
    undo_functions = function_clock.substitute(clock.time, clock.pause)

    def undo() -> None:
        global _active
        undo_functions()
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)
        _active = None

    return undo
