"""``run --input``: the execution input as JSON text, from the argument, a file (``@path``) or stdin (``-``).

The text is checked as Step Functions checks StartExecution's input (valid JSON, at most
256 KiB of UTF-8) before anything is deployed, and is then sent as given.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from infra.cli.common import UsageError

# StartExecution refuses an input over 256 KiB (UTF-8 encoded).
INPUT_LIMIT_BYTES = 262_144


@dataclass(frozen=True)
class ExecutionInput:
    """An execution input: its text (sent as given), the parsed value and where it came from."""

    text: str
    value: Any
    source: str

    @property
    def size(self) -> int:
        """Bytes of UTF-8, as Step Functions counts them."""
        return len(self.text.encode("utf-8"))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")  # a byte-order mark is not part of the JSON
    except UnicodeDecodeError as exc:
        raise UsageError(f"--input: {source} is not UTF-8 text (byte {exc.start})") from None


def _raw_text(spec: str, stdin: BinaryIO | None) -> tuple[str, str]:
    """(text, where it came from) of ``--input`` ``spec``."""
    if spec == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return _decode(stream.read(), "stdin"), "stdin"
    if spec.startswith("@"):
        path = Path(spec[1:])
        if not spec[1:]:
            raise UsageError("--input @: name a file after the @ (--input @body.json)")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UsageError(f"--input {spec}: no such file") from None
        except IsADirectoryError:
            raise UsageError(f"--input {spec}: is a directory, not a file") from None
        except OSError as exc:
            raise UsageError(f"--input {spec}: cannot read: {exc.strerror or exc}") from None
        return _decode(data, str(path)), str(path)
    try:
        spec.encode("utf-8")
    except UnicodeEncodeError as exc:  # undecodable bytes on the command line
        raise UsageError(f"--input is not UTF-8 text (character {exc.start})") from None
    return spec, "the command line"


def read_input(spec: str, stdin: BinaryIO | None = None, limit: int = INPUT_LIMIT_BYTES) -> ExecutionInput:
    """The execution input ``--input`` names (JSON text, ``@file`` or ``-``); UsageError saying what is wrong."""
    text, source = _raw_text(spec, stdin)
    where = "" if source == "the command line" else f" (from {source})"
    size = len(text.encode("utf-8"))
    if size > limit:
        raise UsageError(
            f"--input{where}: {size:,} bytes is over Step Functions' execution input limit of "
            f"{limit:,} bytes (256 KiB); StartExecution would refuse it"
        )
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--input{where} is not valid JSON: {exc}") from None
    except RecursionError:
        raise UsageError(
            f"--input{where}: nested deeper than the JSON parser allows (about {sys.getrecursionlimit()} levels)"
        ) from None
    except ValueError as exc:  # NaN, Infinity
        raise UsageError(f"--input{where} is not valid JSON: {exc}") from None
    return ExecutionInput(text=text, value=value, source=source)
