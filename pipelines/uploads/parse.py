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

``parse`` returns ``Records``: iterating it gives exactly those pairs. Its ``spans()`` reads the
same stream without the Python object hook (a third of the parse time goes to calling it once per
object) and hands over each record's source text instead, so ``aggregate.run`` can see from the
text that no key repeats and re-decode exactly (``exact``) only the records it hands to ``validate``.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
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
# The same decoder without the object hook: C builds each dict itself, a third faster, but a
# repeated key is silently collapsed. Only ``Records.spans`` uses it, handing its caller the source
# text so that it can tell (see ``fast``) or re-decode with ``exact``.
_PLAIN_SCAN = json.JSONDecoder(parse_float=JsonNumber, parse_constant=NonFinite).scan_once
Scan = Callable[[str, int], tuple[Any, int]]
# After a transaction: a comma, and the next one already in the buffer (not ']', so no trailing comma).
# Decoded in place while at least _TAIL characters are left; closer to the end, read on first.
_NEXT = re.compile(r"[ \t\n\r]*,[ \t\n\r]*(?=[^ \t\n\r\]])")
_TAIL = 1 << 14


def _decode(text: str, pos: int, scan: Scan = _SCAN) -> tuple[Any, int]:
    # json's raw_decode without its Python wrapper (this runs once per record).
    try:
        return scan(text, pos)
    except StopIteration as stop:
        raise json.JSONDecodeError("Expecting value", text, stop.value) from None


def exact(text: str, start: int) -> Any:
    """The value at ``text[start:]`` as ``parse_json``/``parse_ndjson`` yield it (``DuplicateKeys`` marked)."""
    return _SCAN(text, start)[0]


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

    def value(self, scan: Scan = _SCAN) -> tuple[Any, int]:
        """Decode the JSON value at the cursor, reading further chunks while it is incomplete; (value, its start)."""
        self.peek()
        while True:
            try:
                value, end = _decode(self.buf, self.pos, scan)
            except json.JSONDecodeError as error:
                if len(self.buf) - self.pos < MAX_RECORD_CHARS and self.fill():
                    continue
                raise MalformedUploadError(f"invalid JSON: {error.msg}", byte=self.byte(error.pos)) from None
            if end == len(self.buf) and self.fill():
                continue  # a bare number may go on in the next chunk
            start, self.pos = self.pos, end
            return value, start


def _json_records(stream: BinaryIO, chunk: int, scan: Scan) -> Iterator[tuple[int, Any, str, int, int]]:
    """``(index, transaction, text, start, end)`` for each element of ``{"transactions": [...]}``.

    ``text[start:end]`` is the element's source (``text`` is the scanner's buffer at that moment).
    """
    reader = _Scanner(stream, chunk)
    if not reader.peek():
        raise EmptyUploadError("the upload is empty (0 bytes or only whitespace)")
    reader.expect("{", 'a JSON object {"transactions": [...]}')
    if reader.peek() == "}":
        raise EmptyUploadError('the upload is an empty object: it needs {"transactions": [...]}')
    at = reader.byte()
    if reader.peek() != '"':
        reader.expect('"', "a quoted key")
    if (key := reader.value()[0]) != "transactions":
        shown = json.dumps(key, ensure_ascii=True)[:_QUOTE]
        raise MalformedUploadError(f'the upload\'s only key must be "transactions", not {shown}', byte=at)
    reader.expect(":", "':' after \"transactions\"")
    reader.expect("[", '"transactions" to be an array')
    index = 0
    if reader.peek() != "]":
        value, start = reader.value(scan)
        while True:
            buf, end = reader.buf, reader.pos
            yield index, value, buf, start, end
            index += 1
            # The common case, inline: ", " then a whole transaction already in the buffer.
            if (after := _NEXT.match(buf, end)) is not None:
                start = reader.pos = after.end()
                if len(buf) - start >= _TAIL:
                    try:
                        value, end = scan(buf, start)
                    except (StopIteration, json.JSONDecodeError):
                        pass  # longer than the tail, or broken: the general path below reads on or says where
                    else:
                        if end < len(buf):
                            reader.pos = end
                            continue
                else:
                    # Read on first: a transaction cut by the chunk's end makes the decoder build an
                    # error (which counts the lines of the whole buffer) only to be thrown away.
                    reader.fill()
                value, start = reader.value(scan)
                continue
            if reader.expect(",]", "',' or ']' after a transaction") == "]":
                break
            if reader.peek() == "]":
                raise MalformedUploadError("invalid JSON: a trailing comma before ']'", byte=reader.byte())
            value, start = reader.value(scan)
    else:
        reader.pos += 1
    at = reader.byte()
    if reader.expect(",}", "'}' closing the upload") == ",":
        raise MalformedUploadError('the upload\'s only key must be "transactions"', byte=at)
    if reader.peek():
        raise MalformedUploadError("data after the end of the JSON document", byte=reader.byte())
    if not index:
        raise EmptyUploadError('the upload has no transactions ("transactions" is empty)')


def parse_json(stream: BinaryIO, chunk: int = CHUNK_BYTES) -> Iterator[tuple[int, Any]]:
    """``(index, transaction)`` for each element of ``{"transactions": [...]}``, streamed."""
    for index, value, _, _, _ in _json_records(stream, chunk, _SCAN):
        yield index, value


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


def _ndjson_records(stream: BinaryIO, chunk: int, scan: Scan) -> Iterator[tuple[int, Any, str | None, int, int]]:
    """``(line number, record, text, start, end)`` per non-blank line; ``text`` None for an ``Unparsable``."""
    records = 0
    for number, raw, too_long in _lines(stream, chunk):
        if too_long:
            records += 1
            yield number, Unparsable(f"the line is longer than {MAX_RECORD_CHARS:,} bytes"), None, 0, 0
            continue
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            records += 1
            yield number, Unparsable(f"not UTF-8 text (byte {error.start} of the line)"), None, 0, 0
            continue
        start = _WS.match(text).end()
        if start == len(text):
            continue
        records += 1
        try:
            value, end = _decode(text, start, scan)
        except json.JSONDecodeError as error:
            yield number, Unparsable(f"invalid JSON: {error.msg} (column {error.colno})"), None, 0, 0
            continue
        if (after := _WS.match(text, end).end()) != len(text):
            yield number, Unparsable(f"data after the JSON value (column {after + 1})"), None, 0, 0
            continue
        yield number, value, text, start, end
    if not records:
        raise EmptyUploadError("the upload is empty (0 bytes or only blank lines)")


def parse_ndjson(stream: BinaryIO, chunk: int = CHUNK_BYTES) -> Iterator[tuple[int, Any]]:
    """``(line number, record or Unparsable)`` for each non-blank line of an NDJSON stream."""
    for number, value, _, _, _ in _ndjson_records(stream, chunk, _SCAN):
        yield number, value


class Records:
    """What ``parse`` returns: an iterator of ``(position, record)``, as ``parse_json``/``parse_ndjson`` yield.

    ``spans()`` is the same stream read the fast way, for a caller that checks records itself
    (``aggregate.run``): ``(position, record, text, start, end)`` decoded without the object hook,
    so a repeated key is collapsed unseen; ``text[start:end]`` is the record's source, from which
    ``exact(text, start)`` gives the record as iteration would. ``text`` is None when the record
    is already exact (an ``Unparsable`` line). Use one or the other, once.
    """

    def __init__(self, stream: BinaryIO, key: str, chunk: int = CHUNK_BYTES):
        self._read = _ndjson_records if is_ndjson(key) else _json_records
        self._stream, self._chunk = stream, chunk
        self._records: Iterator[tuple[int, Any]] | None = None

    def __iter__(self) -> Records:
        return self

    def __next__(self) -> tuple[int, Any]:
        if self._records is None:
            self._records = (r[:2] for r in self._read(self._stream, self._chunk, _SCAN))
        return next(self._records)

    def spans(self) -> Iterator[tuple[int, Any, str | None, int, int]]:
        """``(position, record, text, start, end)``, decoded without duplicate-key detection."""
        return self._read(self._stream, self._chunk, _PLAIN_SCAN)


def parse(stream: BinaryIO, key: str, chunk: int = CHUNK_BYTES) -> Records:
    """The records of the upload stored under ``key``: NDJSON for ``.ndjson``/``.jsonl``, JSON otherwise."""
    return Records(stream, key, chunk)
