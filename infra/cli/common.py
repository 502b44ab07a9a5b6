"""What every command shares: user errors, the stack check, one-line messages, progress, tables."""

from __future__ import annotations

import sys
import time

from infra.sandbox import program


class UsageError(Exception):
    """The command line asks for something impossible; ``main`` prints ``error: <message>`` and exits 2."""


def one_line(text: object, limit: int = 2000) -> str:
    """``text`` with every run of whitespace (newlines included) as one space, cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def require_stack(stack: str) -> None:
    """StackFileError unless ``Pulumi.<stack>.yaml`` is a readable stack file (checked before any work)."""
    program.load_stack_file(stack)


def recorded_program(stack: str) -> program.ProgramRun:
    """The program with ``Pulumi.<stack>.yaml``, recorded only (no AWS, no emulator)."""
    from infra.sandbox.mocks import RecordingMocks

    return program.run_program(RecordingMocks(), program.load_stack_file(stack), stack=stack)


def progress(message: str) -> None:
    """A progress line on stderr (stdout keeps the result)."""
    print(message, file=sys.stderr, flush=True)


class Stopwatch:
    """Seconds since it was made, as ``1.2s``."""

    def __init__(self):
        self.started = time.monotonic()

    def __str__(self) -> str:
        return f"{time.monotonic() - self.started:.1f}s"


def table(rows: list[list[str]]) -> str:
    """Rows as left-aligned columns, a rule under the header row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
