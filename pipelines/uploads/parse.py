"""Streaming parse of an upload: ``(position, record)`` pairs from a binary stream, chunk by chunk.

Only ``stream.read(n)`` is used (an S3 ``StreamingBody`` will do), ``CHUNK_BYTES`` at a time, so
memory holds one chunk and one record, never the whole file next to its parsed form.

ijson is not installed in this project, so the JSON document is split by hand: the scanner
walks the fixed outer shape ``{"transactions": [ … ]}`` itself and hands each array element to
``json.JSONDecoder.raw_decode``, reading more when an element crosses a chunk boundary.

- JSON: ``position`` is the element's 0-based index in ``transactions``. A syntax error anywhere
  makes the document unreadable past it, so it raises ``MalformedUploadError`` with its byte offset.
- NDJSON: ``position`` is the 1-based line number. A line that is not one JSON value cannot hurt
  the next line, so it is yielded as an ``Unparsable`` record (the validator rejects it); blank
  lines are skipped.
- 0 bytes, only whitespace, ``{}``, ``{"transactions": []}`` or no non-blank line: ``EmptyUploadError``.

Numbers with a fraction or exponent become ``JsonNumber``, their exact source text (money stays
exact, and converting to ``Decimal`` is left to the few values that need it); ``NaN``/``Infinity``
become ``NonFinite`` and an object with a repeated key a ``DuplicateKeys`` dict, both left for the
validator to reject with the record's position instead of stopping the file.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from pipelines.uploads.errors import EmptyUploadError, MalformedUploadError
from pipelines.uploads.format import is_ndjson

CHUNK_BYTES = 1 << 16
# One transaction of 1,000 lines is ~150 KB of JSON; anything past this is not a record anyone meant.
MAX_RECORD_CHARS = 1 << 20
_WS = re.compile(r"[ \t\n\r]*")
_QUOTE = 30


@dataclass(frozen=True, slots=True)
class Unparsable:
    """An NDJSON line that is not one JSON value."""

    reason: str


class JsonNumber(str):
    """A JSON number with a fraction or exponent, as written (``"3.49"``, ``"1e2"``): exact, never a float.

    It subclasses ``str`` only to be cheap to make and hash; it is not a JSON string, so code that
    wants a string checks ``type(value) is str``. ``Decimal(value)`` gives its exact value.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"JsonNumber({str.__repr__(self)})"


@dataclass(frozen=True, slots=True)
class NonFinite:
    """``NaN``, ``Infinity`` or ``-Infinity``: accepted by Python's json, not JSON numbers."""

    text: str


class DuplicateKeys(dict):
    """A JSON object that repeated a key (the last value kept, as json does); ``duplicates`` names them."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    duplicates = tuple(dict.fromkeys(k for k, _ in pairs if k in seen or seen.add(k)))
    marked = DuplicateKeys(result)
    marked.duplicates = duplicates
    return marked


DECODER = json.JSONDecoder(parse_float=JsonNumber, parse_constant=NonFinite, object_pairs_hook=_object)
_SCAN = DECODER.scan_once


def _decode(text: str, pos: int) -> tuple[Any, int]:
    # json's raw_decode without its Python wrapper (this runs once per record).
    try:
        return _SCAN(text, pos)
    except StopIteration as stop:
        raise json.JSONDecodeError("Expecting value", text, stop.value) from None


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class _Scanner:
    """A sliding window of decoded text over the stream, with the byte offset of its start."""

    def __init__(self, stream: BinaryIO, chunk: int):
        self.stream, self.chunk = stream, chunk
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
        self.buf, self.pos, self.base, self.read_bytes, self.eof = "", 0, 0, 0, False

    def fill(self) -> bool:
        """Append the next chunk; False at the end of the stream."""
        if self.eof:
            return False
        data = self.stream.read(self.chunk)
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            raise MalformedUploadError("not UTF-8 text", byte=self.read_bytes + max(error.start, 0)) from None
        self.read_bytes += len(data)
        if not data:
            self.eof = True
            return False
        if self.pos:
            self.base += _utf8_len(self.buf[: self.pos])
            self.buf, self.pos = self.buf[self.pos :], 0
        self.buf += text
        return True

    def byte(self, pos: int | None = None) -> int:
        """The byte offset in the stream of buffer position ``pos`` (default: the cursor)."""
        return self.base + _utf8_len(self.buf[: self.pos if pos is None else pos])

    def peek(self) -> str:
        """The next non-whitespace character ('' at the end of the stream), cursor on it."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def expect(self, chars: str, what: str) -> str:
        """Consume the next character if it is one of ``chars``; MalformedUploadError naming ``what`` if not."""
        char = self.peek()
        if not char or char not in chars:
            found = "the end of the file" if not char else json.dumps(self.buf[self.pos : self.pos + _QUOTE])
            raise MalformedUploadError(f"expected {what}, found {found}", byte=self.byte())
        self.pos += 1
        return char

    def value(self) -> Any:
        """Decode the JSON value at the cursor, reading further chunks while it is incomplete."""
        self.peek()
        while True:
            try:
                value, end = _decode(self.buf, self.pos)
            except json.JSONDecodeError as error:
                if len(self.buf) - self.pos < MAX_RECORD_CHARS and self.fill():
                    continue
                raise MalformedUploadError(f"invalid JSON: {error.msg}", byte=self.byte(error.pos)) from None
            if end == len(self.buf) and self.fill():
                continue  # a bare number may go on in the next chunk
            self.pos = end
            return value


def parse_json(stream: BinaryIO, chunk: int = CHUNK_BYTES) -> Iterator[tuple[int, Any]]:
    """``(index, transaction)`` for each element of ``{"transactions": [...]}``, streamed."""
    scan = _Scanner(stream, chunk)
    if not scan.peek():
        raise EmptyUploadError("the upload is empty (0 bytes or only whitespace)")
    scan.expect("{", 'a JSON object {"transactions": [...]}')
    if scan.peek() == "}":
        raise EmptyUploadError('the upload is an empty object: it needs {"transactions": [...]}')
    at = scan.byte()
    if scan.peek() != '"':
        scan.expect('"', "a quoted key")
    if (key := scan.value()) != "transactions":
        shown = json.dumps(key, ensure_ascii=True)[:_QUOTE]
        raise MalformedUploadError(f'the upload\'s only key must be "transactions", not {shown}', byte=at)
    scan.expect(":", "':' after \"transactions\"")
    scan.expect("[", '"transactions" to be an array')
    index = 0
    if scan.peek() != "]":
        while True:
            yield index, scan.value()
            index += 1
            if scan.expect(",]", "',' or ']' after a transaction") == "]":
                break
            if scan.peek() == "]":
                raise MalformedUploadError("invalid JSON: a trailing comma before ']'", byte=scan.byte())
    else:
        scan.pos += 1
    at = scan.byte()
    if scan.expect(",}", "'}' closing the upload") == ",":
        raise MalformedUploadError('the upload\'s only key must be "transactions"', byte=at)
    if scan.peek():
        raise MalformedUploadError("data after the end of the JSON document", byte=scan.byte())
    if not index:
        raise EmptyUploadError('the upload has no transactions ("transactions" is empty)')


def _lines(stream: BinaryIO, chunk: int) -> Iterator[tuple[int, bytes, bool]]:
    """``(line number, bytes without the newline, too long)``; a too-long line's bytes are dropped."""
    pending, number, skipping = b"", 0, False
    while True:
        data = stream.read(chunk)
        if not data:
            if pending or skipping:
                yield number + 1, pending, skipping
            return
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            number += 1
            yield number, (b"" if skipping else pending + data[start:end]), skipping
            pending, skipping, start = b"", False, end + 1
        if not skipping:
            pending += data[start:]
            if len(pending) > MAX_RECORD_CHARS:
                pending, skipping = b"", True


def parse_ndjson(stream: BinaryIO, chunk: int = CHUNK_BYTES) -> Iterator[tuple[int, Any]]:
    """``(line number, record or Unparsable)`` for each non-blank line of an NDJSON stream."""
    records = 0
    for number, raw, too_long in _lines(stream, chunk):
        if too_long:
            records += 1
            yield number, Unparsable(f"the line is longer than {MAX_RECORD_CHARS:,} bytes")
            continue
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            records += 1
            yield number, Unparsable(f"not UTF-8 text (byte {error.start} of the line)")
            continue
        start = _WS.match(text).end()
        if start == len(text):
            continue
        records += 1
        try:
            value, end = _decode(text, start)
        except json.JSONDecodeError as error:
            yield number, Unparsable(f"invalid JSON: {error.msg} (column {error.colno})")
            continue
        if (after := _WS.match(text, end).end()) != len(text):
            yield number, Unparsable(f"data after the JSON value (column {after + 1})")
            continue
        yield number, value
    if not records:
        raise EmptyUploadError("the upload is empty (0 bytes or only blank lines)")


def parse(stream: BinaryIO, key: str, chunk: int = CHUNK_BYTES) -> Iterator[tuple[int, Any]]:
    """The records of the upload stored under ``key``: NDJSON for ``.ndjson``/``.jsonl``, JSON otherwise."""
    return parse_ndjson(stream, chunk) if is_ndjson(key) else parse_json(stream, chunk)
