"""Flattening nested records into CSV: headers, cell text, row alignment, quoting, plan reuse."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from pipelines.radar.flatten import Flattener, flatten, render, to_csv


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


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


def test_render_matches_what_csv_writes_for_every_scalar_type():
    values = ["s", 7, 2.5, None, True, False]
    assert [render(v) for v in values] == parse_csv(to_csv([{str(i): v for i, v in enumerate(values)}]))[1]


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


def test_column_order_is_document_order_and_identical_across_runs():
    record = {"z": 1, "a": {"m": 2, "b": 3}, "k": [4]}
    first = to_csv([record, {**record, "z": 9}])
    assert parse_csv(first)[0] == ["z", "a.m", "a.b", "k.0"]
    assert to_csv([record, {**record, "z": 9}]) == first


def test_csv_is_rfc4180_crlf_lines_and_quotes_only_where_needed():
    text = to_csv([{"plain": "x", "comma": "a,b", "quote": 'say "hi"', "newline": "l1\nl2"}])
    assert text == 'plain,comma,quote,newline\r\nx,"a,b","say ""hi""","l1\nl2"\r\n'


def test_rows_written_before_the_header_grew_are_padded_to_its_full_width():
    assert to_csv([{"a": 1}, {"a": 2, "b": {"c": 3}}]) == "a,b.c\r\n1,\r\n2,3\r\n"
    assert to_csv([{}, {"a": 1, "b": 2}]) == "a,b\r\n,\r\n1,2\r\n"
    assert parse_csv(to_csv([{}, {"a": 1}])) == [["a"], [""], ["1"]]


def test_one_row_per_record():
    records = [{"i": i} for i in range(5)]
    assert parse_csv(to_csv(records))[1:] == [[str(i)] for i in range(5)]


def test_empty_record_has_no_columns_and_non_object_records_are_refused():
    assert flatten({}) == {}
    assert Flattener().table([{}]) == ([], [()])
    with pytest.raises(TypeError, match="JSON object"):
        Flattener().table([{"a": 1}, ["not", "an", "object"]])
    with pytest.raises(TypeError, match="JSON object"):
        flatten("text")


@pytest.mark.parametrize(
    "changed",
    [
        {"l": [1, 2, 3]},  # a longer list
        {"l": [1]},  # a shorter list
        {"l": "12"},  # a string where a list was (takes integer indexes too)
        {"d": {"x": 1, "y": 2}},  # an extra key
        {"d": {}},  # an emptied object
        {"d": {"z": 1}},  # a different key
        {"s": {"inner": "now an object"}},  # a container where a scalar was
        {"s": True},  # a bool where a string was
        {"l": [1, {"deep": [None]}]},
    ],
)
def test_a_record_of_another_shape_never_reuses_the_previous_plan(changed):
    base = {"s": "text", "l": [1, 2], "d": {"x": 1}}
    header, (_, row) = Flattener().table([base, {**base, **changed}])
    expected = flatten({**base, **changed})
    cells = dict(zip(header, row, strict=True))
    assert {column: render(cells[column]) for column in expected} == expected
    assert all(cell == "" for column, cell in cells.items() if column not in expected)


def _random_value(rng: random.Random, depth: int):
    kind = rng.random()
    if depth > 3 or kind < 0.45:
        return rng.choice(["s", "61.2", "", 0, 7, 2.5, None, True, False, "a,b", "ü"])
    if kind < 0.75:
        return {rng.choice("abcd.") + str(i): _random_value(rng, depth + 1) for i in range(rng.randint(0, 3))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def test_compiled_plans_agree_with_the_reference_flattening_on_random_shapes():
    rng = random.Random(20261122)
    templates = [{"k": _random_value(rng, 0), "v": _random_value(rng, 0)} for _ in range(25)]
    records = [json.loads(json.dumps(rng.choice(templates))) for _ in range(400)]
    header, rows = Flattener().table(records)
    expected_header = list(dict.fromkeys(c for r in records for c in flatten(r)))
    assert header == expected_header
    for record, row in zip(records, rows, strict=True):
        reference = flatten(record)
        assert [render(c) for c in row] == [reference.get(column, "") for column in header]
