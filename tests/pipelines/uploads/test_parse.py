"""Streaming parse: records and positions from JSON and NDJSON, chunk boundaries, typed errors with positions."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from pipelines.uploads.errors import EmptyUploadError, MalformedUploadError
from pipelines.uploads.parse import DuplicateKeys, JsonNumber, NonFinite, Unparsable, parse, parse_json, parse_ndjson

DOC = {"transactions": [{"a": 1, "p": 2.50}, {"b": "é€😀"}, {"c": [1, {"d": None}]}]}


def records(data: bytes, ndjson: bool = False, chunk: int = 65536) -> list:
    return list((parse_ndjson if ndjson else parse_json)(io.BytesIO(data), chunk))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 65536])
def test_every_chunk_size_yields_the_same_indexed_records(chunk):
    data = json.dumps(DOC, ensure_ascii=False, indent=2).encode()
    assert records(data, chunk=chunk) == [
        (0, {"a": 1, "p": JsonNumber("2.5")}),
        (1, {"b": "é€😀"}),
        (2, DOC["transactions"][2]),
    ]


def test_fractions_keep_their_exact_text_never_a_float():
    [(_, record)] = records(b'{"transactions": [{"x": 0.1, "y": 1e2, "z": 3, "w": "0.1"}]}')
    assert record == {"x": "0.1", "y": "1e2", "z": 3, "w": "0.1"}
    assert type(record["x"]) is JsonNumber and type(record["w"]) is str and type(record["z"]) is int
    assert Decimal(record["x"]) == Decimal("0.1") and Decimal(record["y"]) == 100
    assert repr(record["x"]) == "JsonNumber('0.1')"


def test_a_leading_byte_order_mark_is_ignored():
    assert records(b'\xef\xbb\xbf{"transactions": [{"a": 1}]}') == [(0, {"a": 1})]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b" \n\t ", "empty"),
        (b"{}", "empty object"),
        (b" { } ", "empty object"),
        (b'{"transactions": []}', "no transactions"),
    ],
)
def test_empty_uploads_raise_a_typed_error(data, message):
    with pytest.raises(EmptyUploadError, match=message):
        records(data)


@pytest.mark.parametrize(
    ("data", "byte", "message"),
    [
        (b"[1, 2]", 0, "expected a JSON object"),
        (b"nonsense", 0, "expected a JSON object"),
        (b'{"sales": []}', 1, 'only key must be "transactions"'),
        (b"{transactions: []}", 1, "a quoted key"),
        (b'{"transactions": {}}', 17, "to be an array"),
        (b'{"transactions": [{"a": 1},]}', 27, "trailing comma"),
        (b'{"transactions": [{"a": 1} {"b": 2}]}', 27, "',' or ']'"),
        (b'{"transactions": [{"a": 1}, {"b": }]}', 34, "invalid JSON: Expecting value"),
        (b'{"transactions": [{"a": 1}', 26, "the end of the file"),
        (b'{"transactions": [{"a": 1}]', 27, "the end of the file"),
        (b'{"transactions": [{"a": 1}], "more": 1}', 27, 'only key must be "transactions"'),
        (b'{"transactions": [{"a": 1}]} {}', 29, "data after the end"),
        (b'{"transactions": [{"a": "\xff"}]}', 25, "not UTF-8"),
        ('{"transactions": [{"é": 1}, {x}]}'.encode(), 30, "invalid JSON"),
    ],
)
@pytest.mark.parametrize("chunk", [1, 5, 65536])
def test_malformed_json_names_the_byte_where_it_broke(data, byte, message, chunk):
    with pytest.raises(MalformedUploadError, match=message) as caught:
        records(data, chunk=chunk)
    assert caught.value.byte == byte


def test_records_before_a_syntax_error_are_yielded_first():
    stream = parse_json(io.BytesIO(b'{"transactions": [{"a": 1}, {"b": 2}, {oops}]}'), 4)
    assert next(stream) == (0, {"a": 1}) and next(stream) == (1, {"b": 2})
    with pytest.raises(MalformedUploadError):
        next(stream)


def test_duplicate_keys_and_non_finite_numbers_are_left_for_the_validator():
    [(_, dup), (_, nan), (_, inf)] = records(b'{"transactions": [{"a": 1, "b": 2, "a": 3}, NaN, -Infinity]}')
    assert isinstance(dup, DuplicateKeys) and dup == {"a": 3, "b": 2} and dup.duplicates == ("a",)
    assert nan == NonFinite("NaN") and inf == NonFinite("-Infinity")


def test_ndjson_positions_are_line_numbers_and_blank_lines_are_skipped():
    data = b'{"a": 1}\n\n  \n{"b": 2.5}\r\n{"c": 3}'
    assert records(data, ndjson=True, chunk=3) == [(1, {"a": 1}), (4, {"b": JsonNumber("2.5")}), (5, {"c": 3})]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{bad", "invalid JSON: Expecting property name"),
        (b'{"a": 1} {"b": 2}', "data after the JSON value (column 10)"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": 1', "invalid JSON"),
    ],
)
def test_a_broken_ndjson_line_is_one_unparsable_record_and_the_next_line_still_reads(line, reason):
    got = records(b'{"a": 0}\n' + line + b'\n{"z": 9}\n', ndjson=True)
    assert got[0] == (1, {"a": 0}) and got[2] == (3, {"z": 9})
    assert got[1][0] == 2 and isinstance(got[1][1], Unparsable) and reason in got[1][1].reason


def test_an_overlong_ndjson_line_is_rejected_without_being_held(monkeypatch):
    monkeypatch.setattr("pipelines.uploads.parse.MAX_RECORD_CHARS", 100)
    got = records(b'{"a": "' + b"x" * 1000 + b'"}\n{"b": 1}\n', ndjson=True, chunk=16)
    assert got[0][0] == 1 and "longer than" in got[0][1].reason and got[1] == (2, {"b": 1})


@pytest.mark.parametrize("data", [b"", b"\n\n  \n"])
def test_an_ndjson_upload_without_a_record_is_empty(data):
    with pytest.raises(EmptyUploadError):
        records(data, ndjson=True)


@pytest.mark.parametrize(("key", "ndjson"), [("uploads/a.json", False), ("uploads/a.NDJSON", True), ("a.jsonl", True)])
def test_the_key_suffix_chooses_the_format(key, ndjson):
    data = b'{"a": 1}\n{"a": 2}\n' if ndjson else b'{"transactions": [{"a": 1}, {"a": 2}]}'
    assert [p for p, _ in parse(io.BytesIO(data), key)] == ([1, 2] if ndjson else [0, 1])


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.largest = 0

    def read(self, size: int = -1) -> bytes:
        assert size > 0, "the parser must read in bounded chunks"
        chunk = super().read(size)
        self.largest = max(self.largest, len(chunk))
        return chunk


def test_the_stream_is_read_in_bounded_chunks_and_consumed_lazily():
    body = b'{"transactions": [' + b",".join(b'{"i": %d}' % i for i in range(50_000)) + b"]}"
    stream = CountingStream(body)
    parsed = parse_json(stream, 4096)
    next(parsed)
    assert stream.tell() <= 4096 * 2
    assert sum(1 for _ in parsed) == 49_999 and stream.largest <= 4096
