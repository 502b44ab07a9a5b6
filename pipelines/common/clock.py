"""The time a function reads and sleeps on: the platform's, unless the sandbox substitutes its clock.

In Lambda these are ``time.time`` and ``time.sleep``. The sandbox runs every function in one
process on a clock that tests advance (``infra/sandbox/clock.py``): a function that waits out a
Retry-After, or stamps an expiry, then agrees with the state machine's own timers, and a wait
costs no wall time. Code that needs "now" or a pause calls these, never ``time`` directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], float] = time.time
_sleep: Callable[[float], None] = time.sleep


def now() -> float:
    """Seconds since the epoch."""
    return _now()


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.fromtimestamp(_now(), UTC)


def sleep(seconds: float) -> None:
    """Pause for ``seconds`` (nothing for zero or less)."""
    if seconds > 0:
        _sleep(seconds)


def substitute(now_fn: Callable[[], float], sleep_fn: Callable[[float], None]) -> Callable[[], None]:
    """Run on another clock (the sandbox's); returns the undo."""
    global _now, _sleep
    saved = _now, _sleep
    _now, _sleep = now_fn, sleep_fn

    def undo() -> None:
        global _now, _sleep
        _now, _sleep = saved

    return undo
