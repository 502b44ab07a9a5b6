"""Flattening nested records into CSV: headers, cell text, row alignment, quoting, hostile input."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from pipelines.radar.cloudflare import RadarClient
from pipelines.radar.files import data_document, render_files, staged_document
from pipelines.radar.flatten import flatten, to_csv
from pipelines.radar.transport import api_session

from .conftest import RADAR_TOKEN

TS = "2026-11-22T06:00:00Z"


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def resolve(record: dict, header: str) -> object:
    """The value ``header`` names in ``record``: split on unescaped dots, unescape, walk."""
    segments, current, chars = [], [], iter(header)
    for char in chars:
        if char == "\\":
            current.append(next(chars))
        elif char == ".":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    value = record
    for key in segments:
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def leaves(value: object) -> int:
    """How many columns ``value`` should give: its scalars and empty containers."""
    if isinstance(value, (dict, list)) and value:
        return sum(leaves(v) for v in (value.values() if isinstance(value, dict) else value))
    return 1


def test_nested_objects_and_lists_get_dot_paths_with_list_items_indexed():
    record = {"radarData": {"result": {"meta": {"dateRange": [{"startTime": "a"}, {"startTime": "b"}]}}}}
    assert flatten(record) == {
        "radarData.result.meta.dateRange.0.startTime": "a",
        "radarData.result.meta.dateRange.1.startTime": "b",
    }


def test_lists_of_lists_and_scalars_are_indexed_at_every_level():
    assert flatten({"m": [[1, 2], ["x"]], "s": ["p", "q"]}) == {
        "m.0.0": "1",
        "m.0.1": "2",
        "m.1.0": "x",
        "s.0": "p",
        "s.1": "q",
    }


def test_empty_object_and_list_keep_a_column_marked_distinct_from_null():
    assert flatten({"annotations": [], "extra": {}, "level": None}) == {
        "annotations": "[]",
        "extra": "{}",
        "level": "",
    }


def test_dots_in_keys_are_escaped_so_they_never_collide_with_nesting():
    row = flatten({"HTTP/1.x": "12.5", "a.b": "flat", "a": {"b": "nested"}, "back\\slash": "k"})
    assert row == {"HTTP/1\\.x": "12.5", "a\\.b": "flat", "a.b": "nested", "back\\\\slash": "k"}


def test_backslashes_before_dots_and_empty_keys_still_give_distinct_headers():
    record = {
        "a\\": {"b": 1},  # a.b with the backslash escaped: a\\.b
        "a\\.b": 2,  # key "a\.b": a\\\.b
        "a": {"\\": {"b": 3}},  # a.\\.b
        "": {"b": 4},  # an empty key is a segment too: .b
        "b": 5,
        "x": {"": 6},  # x.
    }
    row = flatten(record)
    assert row == {"a\\\\.b": "1", "a\\\\\\.b": "2", "a.\\\\.b": "3", ".b": "4", "b": "5", "x.": "6"}
    assert {column: resolve(record, column) for column in row} == {
        "a\\\\.b": 1,
        "a\\\\\\.b": 2,
        "a.\\\\.b": 3,
        ".b": 4,
        "b": 5,
        "x.": 6,
    }


def test_unicode_is_kept_in_headers_and_cells():
    text = to_csv([{"名前": "Zürich – 東京", "emoji": "🚀"}])
    assert parse_csv(text) == [["名前", "emoji"], ["Zürich – 東京", "🚀"]]


def test_scalars_render_as_sent_strings_stay_strings_numbers_are_not_reformatted():
    record = {
        "share": "61.20",  # a string with a trailing zero stays exactly as sent
        "big": 1234567890123456789,  # an int beyond float precision stays exact
        "pct": 61.2,
        "tiny": 0.1,
        "whole": 100.0,
        "neg": -3,
        "flag": True,
        "off": False,
        "rank": None,
    }
    header, row = parse_csv(to_csv([record]))
    assert dict(zip(header, row, strict=True)) == {
        "share": "61.20",
        "big": "1234567890123456789",
        "pct": "61.2",
        "tiny": "0.1",
        "whole": "100.0",
        "neg": "-3",
        "flag": "true",
        "off": "false",
        "rank": "",
    }


def test_the_csv_row_is_exactly_the_flattened_record():
    record = {"s": "s", "i": 7, "f": 2.5, "n": None, "t": True, "x": False, "e": [], "o": {}, "q": 'a,"b"\r\n'}
    header, row = parse_csv(to_csv([record]))
    assert dict(zip(header, row, strict=True)) == flatten(record)


def test_records_of_different_shapes_share_one_header_and_rows_stay_aligned():
    records = [
        {"orgId": "a", "radar": {"rank": 1, "categories": [{"id": 1}]}},
        {"orgId": "b", "radar": {"rank": None, "categories": [{"id": 1}, {"id": 2}]}, "note": "x"},
        {"orgId": "c"},
    ]
    rows = parse_csv(to_csv(records))
    header = rows[0]
    assert header == ["orgId", "radar.rank", "radar.categories.0.id", "radar.categories.1.id", "note"]
    assert [dict(zip(header, r, strict=True)) for r in rows[1:]] == [
        {
            "orgId": "a",
            "radar.rank": "1",
            "radar.categories.0.id": "1",
            "radar.categories.1.id": "",
            "note": "",
        },
        {
            "orgId": "b",
            "radar.rank": "",
            "radar.categories.0.id": "1",
            "radar.categories.1.id": "2",
            "note": "x",
        },
        {
            "orgId": "c",
            "radar.rank": "",
            "radar.categories.0.id": "",
            "radar.categories.1.id": "",
            "note": "",
        },
    ]


@pytest.mark.parametrize(
    "changed",
    [
        {"l": [1, 2, 3]},  # a longer list
        {"l": [1]},  # a shorter list
        {"l": "12"},  # a string where a list was
        {"d": {"x": 1, "y": 2}},  # an extra key
        {"d": {}},  # an emptied object
        {"d": {"z": 1}},  # a different key
        {"s": {"inner": "now an object"}},  # a container where a scalar was
        {"s": True},  # a bool where a string was
        {"l": [1, {"deep": [None]}]},
    ],
)
def test_a_record_of_another_shape_gets_its_own_cells_and_blanks_elsewhere(changed):
    base = {"s": "text", "l": [1, 2], "d": {"x": 1}}
    header, _, row = parse_csv(to_csv([base, {**base, **changed}]))
    cells = dict(zip(header, row, strict=True))
    expected = flatten({**base, **changed})
    assert {column: cells[column] for column in expected} == expected
    assert all(cell == "" for column, cell in cells.items() if column not in expected)


def test_column_order_is_document_order_and_identical_across_runs():
    record = {"z": 1, "a": {"m": 2, "b": 3}, "k": [4]}
    first = to_csv([record, {**record, "z": 9}])
    assert parse_csv(first)[0] == ["z", "a.m", "a.b", "k.0"]
    assert to_csv([record, {**record, "z": 9}]) == first


def test_csv_is_rfc4180_crlf_lines_and_quotes_only_where_needed():
    text = to_csv([{"plain": "x", "comma": "a,b", "quote": 'say "hi"', "newline": "l1\nl2"}])
    assert text == 'plain,comma,quote,newline\r\nx,"a,b","say ""hi""","l1\nl2"\r\n'


def test_rows_lacking_later_columns_are_padded_to_the_full_width():
    assert to_csv([{"a": 1}, {"a": 2, "b": {"c": 3}}]) == "a,b.c\r\n1,\r\n2,3\r\n"
    assert to_csv([{}, {"a": 1, "b": 2}]) == "a,b\r\n,\r\n1,2\r\n"
    assert parse_csv(to_csv([{}, {"a": 1}])) == [["a"], [""], ["1"]]


def test_one_row_per_record():
    records = [{"i": i} for i in range(5)]
    assert parse_csv(to_csv(records))[1:] == [[str(i)] for i in range(5)]


def test_empty_record_has_no_columns_and_non_object_records_are_refused():
    assert flatten({}) == {}
    assert to_csv([{}]) == "\r\n\r\n"  # an empty header line and one empty row
    with pytest.raises(TypeError, match="JSON object"):
        to_csv([{"a": 1}, ["not", "an", "object"]])
    with pytest.raises(TypeError, match="JSON object"):
        flatten("text")


def _random_value(rng: random.Random, depth: int):
    kind = rng.random()
    if depth > 3 or kind < 0.45:
        return rng.choice(["s", "61.2", "", 0, 7, 2.5, None, True, False, "a,b", "ü"])
    if kind < 0.75:
        return {
            rng.choice(["a", "", ".", "\\", "a.", "\\.", "0"]) + str(i) * rng.randint(0, 1): _random_value(
                rng, depth + 1
            )
            for i in range(rng.randint(0, 3))
        }
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def test_every_header_names_exactly_one_value_on_random_documents_with_hostile_keys():
    rng = random.Random(20261122)
    for _ in range(300):
        record = {"k": _random_value(rng, 0), "v.": _random_value(rng, 0), "": _random_value(rng, 0)}
        row = flatten(record)
        assert len(row) == leaves(record)  # no two values share a header
        for column, cell in row.items():
            assert flatten({"x": resolve(record, column)})["x"] == cell, column


@pytest.fixture
def org_document(radar):
    """One org's data.json content, built as the pipeline builds it from the Radar fake's answers."""
    org = {"orgId": "org-cloudflare", "connectorParams": {"domain": "cloudflare.com", "location": "US", "asn": "13335"}}
    session = api_session(total=0, timeout=5.0)
    results = RadarClient(session, radar.base_url, RADAR_TOKEN).run_all(
        ("ranking", "device_type", "asn"), org["connectorParams"]
    )
    staged = json.loads(json.dumps(staged_document(org, TS, results)))  # staged in S3 as JSON
    return data_document(staged, org["orgId"], TS)


def test_the_real_per_org_document_of_all_three_queries_flattens_to_one_exact_row(org_document):
    header, row, *more = parse_csv(render_files(org_document)["csv"].decode("utf-8"))
    assert more == []
    cells = dict(zip(header, row, strict=True))
    assert header[:5] == [
        "orgId",
        "timestamp",
        "connectorParams.domain",
        "connectorParams.location",
        "connectorParams.asn",
    ]
    assert {column: cells[column] for column in header[:2]} == {"orgId": "org-cloudflare", "timestamp": TS}
    assert cells["radarData.ranking.result.meta.dateRange.0.startTime"] == "2026-11-15T06:00:00Z"
    assert cells["radarData.ranking.success"] == "true"
    assert cells["radarData.ranking.errors"] == "[]"
    assert cells["radarData.ranking.result.details_0.rank"] == "6"
    assert cells["radarData.ranking.result.details_0.top_locations.4.locationCode"] == "BR"
    assert "radarData.ranking.result.details_0.top_locations.5.locationCode" not in cells
    assert cells["radarData.device_type.result.meta.confidenceInfo.annotations"] == "[]"
    assert cells["radarData.device_type.result.meta.normalization"] == "PERCENTAGE"
    desktop = cells["radarData.device_type.result.summary_0.desktop"]
    assert desktop == org_document["radarData"]["device_type"]["result"]["summary_0"]["desktop"]  # string as sent
    assert cells["radarData.asn.result.asn.asn"] == "13335"
    assert cells["radarData.asn.result.asn.orgName"] == "Cloudflare, Inc."
    assert cells["radarData.asn.result.asn.related"] == "[]"
    assert cells["radarData.asn.result.asn.estimatedUsers.estimatedUsers"] == ""
    # Every column, and only those, is one value of the document.
    assert len(header) == leaves(org_document)
    assert cells == {column: flatten({"x": resolve(org_document, column)})["x"] for column in header}


def test_a_document_nested_far_beyond_the_recursion_limit_flattens():
    depth = 2_000
    record: object = "bottom"
    for level in range(depth):
        record = {"k": record} if level % 2 else [record]
    row = flatten({"root": record})
    (column,) = row
    assert row[column] == "bottom"
    assert column == "root" + ".k.0" * (depth // 2)
    assert parse_csv(to_csv([{"root": record}])) == [[column], ["bottom"]]


def test_lone_surrogates_become_the_replacement_character_so_the_csv_encodes_as_utf8():
    # json.loads keeps an unpaired \ud800 escape as a surrogate, which UTF-8 cannot encode.
    record = json.loads('{"key\\ud800": "a\\udc00b", "pair": "\\ud83d\\ude80", "plain": "x"}')
    text = to_csv([record])
    assert parse_csv(text.encode("utf-8").decode("utf-8")) == [["key\ufffd", "pair", "plain"], ["a\ufffdb", "🚀", "x"]]


def test_huge_values_are_written_whole():
    big_text = 'x,"y"\n' * 200_000  # 1.2 MB that needs quoting
    big_int = 10**4000 + 7  # exact, near Python's default int-to-text limit
    wide = list(range(5_000))
    text = to_csv([{"text": big_text, "int": big_int, "wide": wide}])
    limit = csv.field_size_limit(len(big_text))  # the reader's own limit is 128 KiB a field
    try:
        header, row = parse_csv(text)
    finally:
        csv.field_size_limit(limit)
    assert header[:3] == ["text", "int", "wide.0"] and len(header) == 2 + 5_000
    assert row[0] == big_text
    assert row[1] == str(big_int)
    assert row[2:] == [str(i) for i in wide]
