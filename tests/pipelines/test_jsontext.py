"""JSON bytes survive lone surrogates (a third-party API may send them inside valid JSON)."""

import json

from pipelines.common.jsontext import utf8_json


def test_a_lone_surrogate_is_escaped_and_reads_back_exactly():
    document = {"name": "bad \ud800 value", "pair": "😀", "plain": "café"}
    data = utf8_json(document, indent=2)
    assert b"\\ud800" in data and "😀".encode() in data and "café".encode() in data
    assert json.loads(data) == document


def test_ordinary_documents_are_plain_utf8_json():
    assert utf8_json({"a": [1, "é"]}) == '{"a": [1, "é"]}'.encode()
