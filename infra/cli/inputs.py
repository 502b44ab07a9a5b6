"""``run --input``: the execution input as JSON text, from the argument, a file (``@path``) or stdin (``-``).

The text is checked as Step Functions checks StartExecution's input (valid JSON, at most
256 KiB of UTF-8) before anything is deployed, and is then sent as given.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from infra.cli.common import UsageError

# StartExecution refuses an input over 256 KiB (UTF-8 encoded).
INPUT_LIMIT_BYTES = 262_144
BOM = b"\xef\xbb\xbf"


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


def _too_large(where: str, size: int | None, limit: int) -> UsageError:
    what = f"--input{where}: {size:,} bytes is" if size is not None else f"--input{where} is"
    return UsageError(
        f"{what} over Step Functions' execution input limit of {limit:,} bytes (256 KiB); "
        "StartExecution would refuse it"
    )


def _read_bounded(stream: BinaryIO, source: str, limit: int) -> str:
    """At most ``limit`` bytes (and a byte-order mark) of ``stream``: /dev/zero or a huge file is not read whole."""
    data = stream.read(limit + len(BOM) + 1)
    if len(data) > limit + (len(BOM) if data.startswith(BOM) else 0):
        try:
            size = os.fstat(stream.fileno()).st_size if Path(source).is_file() else None
        except (OSError, ValueError):
            size = None
        raise _too_large(f" (from {source})", size, limit)
    return _decode(data, source)


def _raw_text(spec: str, stdin: BinaryIO | None, limit: int) -> tuple[str, str]:
    """(text, where it came from) of ``--input`` ``spec``."""
    if spec == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        if stream.isatty():
            print("reading the execution input from stdin (end it with Ctrl-D)…", file=sys.stderr, flush=True)
        return _read_bounded(stream, "stdin", limit), "stdin"
    if spec.startswith("@"):
        if not spec[1:]:
            raise UsageError("--input @: name a file after the @ (--input @body.json)")
        path = Path(spec[1:])
        try:
            with path.open("rb") as stream:
                return _read_bounded(stream, str(path), limit), str(path)
        except FileNotFoundError:
            raise UsageError(f"--input {spec}: no such file") from None
        except IsADirectoryError:
            raise UsageError(f"--input {spec}: is a directory, not a file") from None
        except OSError as exc:
            raise UsageError(f"--input {spec}: cannot read: {exc.strerror or exc}") from None
    try:
        spec.encode("utf-8")
    except UnicodeEncodeError as exc:  # undecodable bytes on the command line
        raise UsageError(f"--input is not UTF-8 text (character {exc.start})") from None
    return spec, "the command line"


def read_input(spec: str, stdin: BinaryIO | None = None, limit: int = INPUT_LIMIT_BYTES) -> ExecutionInput:
    """The execution input ``--input`` names (JSON text, ``@file`` or ``-``); UsageError saying what is wrong."""
    text, source = _raw_text(spec, stdin, limit)
    where = "" if source == "the command line" else f" (from {source})"
    size = len(text.encode("utf-8"))
    if size > limit:
        raise _too_large(where, size, limit)
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


# Pipelines started by uploading a file (their trigger is S3 → EventBridge), for ``run --file``.
FILE_PIPELINES = ("uploads", "release-approval")
S3_KEY_LIMIT_BYTES = 1024


@dataclass(frozen=True)
class UploadFile:
    """A local file ``run --file`` uploads: its path, the name it gets under the upload prefix, its size."""

    path: Path
    name: str
    size: int


def read_upload(spec: str, pipeline: str) -> UploadFile:
    """The file ``--file`` names, for a pipeline started by uploads; UsageError saying what is wrong."""
    if pipeline not in FILE_PIPELINES:
        raise UsageError(
            f"--file: pipeline {pipeline!r} is not started by an upload (use --input); "
            f"pipelines that are: {', '.join(FILE_PIPELINES)}"
        )
    path = Path(spec)
    if not spec or not path.name:
        raise UsageError("--file: name a file (--file sales.json)")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UsageError(f"--file {spec}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--file {spec}: cannot read: {exc.strerror or exc}") from None
    if not path.is_file():
        raise UsageError(f"--file {spec}: is not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"--file {spec}: cannot read: permission denied")
    try:
        encoded = path.name.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"--file {spec}: the file name is not UTF-8 (S3 keys are UTF-8); rename it") from None
    if len(encoded) > S3_KEY_LIMIT_BYTES - 64:
        raise UsageError(f"--file {spec}: the file name is longer than an S3 key allows")
    return UploadFile(path=path, name=path.name, size=size)
