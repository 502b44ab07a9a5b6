"""Flatten nested JSON records into CSV rows with dot-notation headers.

Conventions (pinned by tests):
- a path is the keys from the root joined by ``.``; list items are indexed (``dateRange.0.startTime``);
- a ``.`` or ``\\`` inside a key is escaped with ``\\`` so two different paths never share a header;
- strings are written as sent, ``null`` as an empty cell, booleans as ``true``/``false``, ints and
  floats as Python's shortest round-trip text (``61.2`` stays ``61.2``); an empty object or list
  keeps its column with ``{}`` or ``[]``, so "present but empty" differs from "absent";
- every row of one CSV has the same header: the union of all records' columns, in first-seen order;
- the CSV text is always encodable as UTF-8: a surrogate code point (``json.loads`` leaves one for
  an unpaired ``\\ud800``-style escape) becomes U+FFFD in the header or cell it was in.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

_SURROGATE = re.compile("[\ud800-\udfff]")


def _segment(key: object) -> str:
    # Escaping the escape character first keeps the mapping from paths to headers one-to-one.
    return str(key).replace("\\", "\\\\").replace(".", "\\.")


def _cell(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{}"  # only an empty one reaches here
    if isinstance(value, list):
        return "[]"
    return str(value)


def flatten(record: dict) -> dict[str, str]:
    """``record`` as ``{header: cell}`` in document order; TypeError if it is not an object."""
    if not isinstance(record, dict):
        raise TypeError(f"a record must be a JSON object, got {type(record).__name__}")
    cells: dict[str, str] = {}
    # (path, value) pairs still to visit, the next one last. An explicit stack rather than
    # recursion, so a deeply nested document cannot hit the recursion limit.
    stack = [(_segment(key), value) for key, value in reversed(record.items())]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict) and value:
            stack.extend((f"{path}.{_segment(key)}", child) for key, child in reversed(value.items()))
        elif isinstance(value, list) and value:
            stack.extend((f"{path}.{index}", value[index]) for index in reversed(range(len(value))))
        else:
            cells[path] = _cell(value)
    return cells


def to_csv(records: Iterable[dict]) -> str:
    """``records`` as one RFC 4180 CSV document (CRLF, minimal quoting), header first."""
    rows = [flatten(record) for record in records]
    header = list(dict.fromkeys(column for row in rows for column in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([row.get(column, "") for column in header] for row in rows)
    text = buffer.getvalue()
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)
