"""Flatten nested JSON records into CSV rows with dot-notation headers.

Conventions (pinned by tests):
- a path is the keys from the root joined by ``.``; list items are indexed (``dateRange.0.startTime``);
- a ``.`` or ``\\`` inside a key is escaped with ``\\`` so two different paths never share a header;
- strings are written as sent, ``null`` as an empty cell, booleans as ``true``/``false``, ints and
  floats as Python's shortest round-trip text (``61.2`` stays ``61.2``); an empty object or list
  keeps its column with ``{}`` or ``[]``, so "present but empty" differs from "absent";
- every row of one CSV has the same header: the union of all records' columns, in first-seen order.

Speed: records of one shape (same keys, same list lengths) are flattened by a function compiled
for that shape once, with no recursion, no per-value path building and no per-row re-layout. A
record that fits none of the recently used plans is walked once to find (or compile) its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import TextIO


class _ShapeMismatch(Exception):
    """A compiled plan met a record of another shape."""


# Cell types csv.writer writes exactly as render() would: str as is, None empty, int/float by repr.
_CSV_READY = frozenset({str, int, float, type(None)})


def escape_key(key: str) -> str:
    """``key`` as one header segment: backslashes and dots escaped."""
    if "\\" in key:
        key = key.replace("\\", "\\\\")
    return key.replace(".", "\\.") if "." in key else key


def render(value: object) -> str:
    """One scalar as CSV cell text (see the module docstring)."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return repr(value)
    if isinstance(value, (dict, list)):
        raise _ShapeMismatch
    return str(value)


def flatten(record: dict) -> dict[str, str]:
    """``record`` as ``{header: cell}`` in document order (the reference, plan-free form)."""
    if type(record) is not dict:
        raise TypeError(f"a record must be a JSON object, got {type(record).__name__}")
    out: dict[str, str] = {}
    stack: list[tuple[str, object]] = [("", record)]
    while stack:
        path, value = stack.pop()
        if type(value) is dict or type(value) is list:
            if not value:
                out[path] = "{}" if type(value) is dict else "[]"
                continue
            items = value.items() if type(value) is dict else enumerate(value)
            children = [((f"{path}.{escape_key(str(k))}" if path else escape_key(str(k))), v) for k, v in items]
            stack.extend(reversed(children))
        else:
            out[path] = render(value)
    out.pop("", None)  # an empty record has no columns at all
    return out


def _shape(value: object):
    """A hashable description of ``value``'s structure (keys and list lengths, not scalars)."""
    kind = type(value)
    if kind is dict:
        return (dict, tuple((k, _shape(v)) for k, v in value.items()))
    if kind is list:
        return (list, tuple(_shape(v) for v in value))
    return None


class _PlanBuilder:
    """Emits the source of one shape's flattening function.

    The function first walks to every container (a missing key or a wrong type raises), then
    checks all their sizes and the list types in one tuple comparison, then reads every leaf
    straight into its column's position of the flattener's header.
    """

    def __init__(self):
        self.walk: list[str] = []
        self.probes: list[str] = []
        self.expected: list[str] = []
        self.cells: list[str] = []
        self.columns: list[str] = []
        self._names = 0

    def _var(self) -> str:
        self._names += 1
        return f"n{self._names}"

    def node(self, var: str, value: object, path: str) -> None:
        kind = type(value)
        self.probes.append(f"len({var})")
        self.expected.append(str(len(value)))
        if kind is list or not value:
            # A non-empty dict is proven by subscripting it with string keys; a list is not (a
            # string takes integer indexes too), nor is an empty container.
            self.probes.append(f"type({var})")
            self.expected.append(kind.__name__)
        if not value:
            if path:  # an empty record has no columns at all
                self.columns.append(path)
                self.cells.append(repr("{}" if kind is dict else "[]"))
            return
        items = value.items() if kind is dict else enumerate(value)
        for key, child in items:
            segment = escape_key(str(key))
            child_path = f"{path}.{segment}" if path else segment
            if type(child) is dict or type(child) is list:
                child_var = self._var()
                self.walk.append(f"{child_var} = {var}[{key!r}]")
                self.node(child_var, child, child_path)
            else:
                self.columns.append(child_path)
                if type(child) is bool:
                    # csv would write True; render gives JSON's true. Other scalars csv writes as we would.
                    self.cells.append(f"(x if type(x := {var}[{key!r}]) is str else R(x))")
                else:
                    self.cells.append(f"{var}[{key!r}]")

    def compile(self, positions: list[int], width: int) -> Callable[[dict], tuple]:
        """The plan function; its row is ``width`` cells, this shape's at ``positions``."""
        slots = ["''"] * width
        for position, cell in zip(positions, self.cells, strict=True):
            slots[position] = cell
        source = "\n    ".join(
            [
                "def plan(r):",
                *self.walk,
                f"if ({', '.join(self.probes)},) != ({', '.join(self.expected)},): raise M",
                f"cells = ({''.join(slot + ', ' for slot in slots)})",
                # Leaves that were strings, numbers or null in the first record are taken as they
                # are; anything else (a bool, or a container where a scalar was) goes through render.
                "if not CSV_READY.issuperset(map(type, cells)): cells = tuple(map(R, cells))",
                "return cells",
            ]
        )
        namespace = {"M": _ShapeMismatch, "R": render, "CSV_READY": _CSV_READY}
        exec(compile(source + "\n", "<flatten-plan>", "exec"), namespace)
        return namespace["plan"]


class _Plan:
    __slots__ = ("run", "width")

    def __init__(self, run: Callable[[dict], tuple], width: int):
        self.run = run
        self.width = width


# What a plan raises on a record of another shape.
_MISMATCH = (_ShapeMismatch, KeyError, IndexError, TypeError)


class Flattener:
    """Flattens the records of one CSV document, compiling one plan per record shape.

    The header grows as shapes with new columns appear (first-seen order, never reordered), so
    a plan writes its cells straight into header positions; rows made before the header grew
    are padded at the end. Use one Flattener per document: its header is the union of all it saw.
    """

    # Plans tried, most recently used first, before a record's shape is worked out: trying a plan
    # stops at its first failed structure check, which is much cheaper than walking the record.
    RECENT_PLANS = 8

    def __init__(self):
        self._plans: dict[object, _Plan] = {}
        self._recent: list[_Plan] = []
        self._header: dict[str, int] = {}

    @property
    def plan_count(self) -> int:
        """How many record shapes this flattener has compiled a plan for."""
        return len(self._plans)

    @property
    def header(self) -> list[str]:
        """Every column seen so far, in first-seen order."""
        return list(self._header)

    def _plan_for(self, record: dict) -> _Plan:
        if type(record) is not dict:
            raise TypeError(f"a record must be a JSON object, got {type(record).__name__}")
        shape = _shape(record)
        plan = self._plans.get(shape)
        if plan is None:
            builder = _PlanBuilder()
            builder.node("r", record, "")
            for column in builder.columns:
                self._header.setdefault(column, len(self._header))
            positions = [self._header[column] for column in builder.columns]
            plan = _Plan(builder.compile(positions, len(self._header)), len(self._header))
            self._plans[shape] = plan
        return plan

    def _cells(self, record: dict) -> tuple:
        recent = self._recent
        for position, plan in enumerate(recent):
            try:
                cells = plan.run(record)
            except _MISMATCH:
                continue
            if position:
                recent.insert(0, recent.pop(position))
            return cells
        plan = self._plan_for(record)
        recent.insert(0, plan)
        del recent[self.RECENT_PLANS :]
        return plan.run(record)

    def table(self, records: Iterable[dict]) -> tuple[list[str], list[tuple]]:
        """The header and one row per record, every row as wide as the header.

        Cells are CSV-ready: str, or int/float/None, which csv.writer writes as ``render`` would.
        """
        rows: list[tuple] = []
        append = rows.append
        cells_of = self._cells
        for record in records:
            # Inline try of the most recent plan: most records share the previous one's shape.
            if self._recent:
                try:
                    append(self._recent[0].run(record))
                    continue
                except _MISMATCH:
                    pass
            append(cells_of(record))
        width = len(self._header)
        if any(plan.width != width for plan in self._plans.values()):
            pads = {n: ("",) * n for n in range(width + 1)}
            rows = [row if len(row) == width else row + pads[width - len(row)] for row in rows]
        return list(self._header), rows


def write_csv(records: Iterable[dict], out: TextIO, flattener: Flattener | None = None) -> int:
    """Write ``records`` as RFC 4180 CSV (CRLF, minimal quoting) to ``out``; returns the row count.

    Each row is encoded as soon as its record is flattened, so the parsed record can be freed at
    once; only the encoded lines wait for the header, which is complete after the last record.
    """
    flattener = flattener or Flattener()
    lines: list[str] = []
    # csv.writer hands each row to write() as one string: collect them one line per row.
    writerow = csv.writer(_LineSink(lines.append), lineterminator="\r\n").writerow
    runs: list[tuple[int, int]] = []  # (first line, row width) wherever the width changes
    width = -1
    recent = flattener._recent
    for record in records:
        cells = None
        if recent:
            # Inline try of the most recent plan: most records share the previous one's shape.
            try:
                cells = recent[0].run(record)
            except _MISMATCH:
                pass
        if cells is None:
            cells = flattener._cells(record)
        if len(cells) != width:
            width = len(cells)
            runs.append((len(lines), width))
        writerow(cells)
    header = flattener.header
    _pad_short_rows(lines, runs, len(header))
    csv.writer(out, lineterminator="\r\n").writerow(header)
    out.writelines(lines)
    return len(lines)


class _LineSink:
    __slots__ = ("write",)

    def __init__(self, write: Callable[[str], object]):
        self.write = write


def _pad_short_rows(lines: list[str], runs: list[tuple[int, int]], width: int) -> None:
    # Rows written before a later shape added columns get empty cells appended to their line.
    ends = [start for start, _ in runs[1:]] + [len(lines)]
    for (start, row_width), end in zip(runs, ends, strict=True):
        if row_width == width:
            continue
        if row_width == 0:
            empty = _encode_row(("",) * width)
            lines[start:end] = [empty] * (end - start)
            continue
        pad = "," * (width - row_width) + "\r\n"
        lines[start:end] = [line[:-2] + pad for line in lines[start:end]]


def _encode_row(cells: tuple) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def to_csv(records: Iterable[dict]) -> str:
    """``records`` as one CSV document (a string)."""
    buffer = io.StringIO()
    write_csv(records, buffer)
    return buffer.getvalue()
