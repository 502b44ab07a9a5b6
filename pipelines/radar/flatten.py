"""Flatten nested JSON records into CSV rows with dot-notation headers.

Conventions (pinned by tests):
- a path is the keys from the root joined by ``.``; list items are indexed (``dateRange.0.startTime``);
- a ``.`` or ``\\`` inside a key is escaped with ``\\`` so two different paths never share a header;
- strings are written as sent, ``null`` as an empty cell, booleans as ``true``/``false``, ints and
  floats as Python's shortest round-trip text (``61.2`` stays ``61.2``); an empty object or list
  keeps its column with ``{}`` or ``[]``, so "present but empty" differs from "absent";
- every row of one CSV has the same header: the union of all records' columns, in first-seen order.

Speed: records of one shape (same keys, same list lengths) are flattened by a function compiled
for that shape once, with no recursion and no per-value path building. A record that does not
fit the last-used plan is walked once to find (or compile) its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from operator import itemgetter
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
            children = [
                ((f"{path}.{escape_key(str(k))}" if path else escape_key(str(k))), v) for k, v in items
            ]
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
    checks all their sizes and the list types in one tuple comparison, then reads every leaf.
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

    def compile(self) -> Callable[[dict], tuple]:
        comma = "," if len(self.cells) == 1 else ""
        source = "\n    ".join(
            [
                "def plan(r):",
                *self.walk,
                f"if ({', '.join(self.probes)},) != ({', '.join(self.expected)},): raise M",
                f"cells = ({', '.join(self.cells)}{comma})",
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
    __slots__ = ("columns", "run")

    def __init__(self, columns: tuple[str, ...], run: Callable[[dict], tuple]):
        self.columns = columns
        self.run = run


class Flattener:
    """Flattens records, compiling one plan per record shape and reusing it."""

    # Plans tried, most recently used first, before a record's shape is worked out: trying a plan
    # stops at its first failed structure check, which is much cheaper than walking the record.
    RECENT_PLANS = 8

    def __init__(self):
        self._plans: dict[object, _Plan] = {}
        self._recent: list[_Plan] = []

    @property
    def plan_count(self) -> int:
        """How many record shapes this flattener has compiled a plan for."""
        return len(self._plans)

    def _plan_for(self, record: dict) -> _Plan:
        if type(record) is not dict:
            raise TypeError(f"a record must be a JSON object, got {type(record).__name__}")
        shape = _shape(record)
        plan = self._plans.get(shape)
        if plan is None:
            builder = _PlanBuilder()
            builder.node("r", record, "")
            plan = _Plan(tuple(builder.columns), builder.compile())
            self._plans[shape] = plan
        return plan

    def _match(self, record: dict) -> tuple[_Plan, tuple]:
        recent = self._recent
        for position, plan in enumerate(recent):
            try:
                cells = plan.run(record)
            except (_ShapeMismatch, KeyError, IndexError, TypeError):
                continue
            if position:
                recent.insert(0, recent.pop(position))
            return plan, cells
        plan = self._plan_for(record)
        recent.insert(0, plan)
        del recent[self.RECENT_PLANS :]
        return plan, plan.run(record)

    def row(self, record: dict) -> tuple[tuple[str, ...], tuple]:
        """``(columns, cells)`` of one record; cells are CSV-ready (str, int, float or None)."""
        plan, cells = self._match(record)
        return plan.columns, cells

    def table(self, records: Iterable[dict]) -> tuple[list[str], list[tuple]]:
        """The union header and one row per record, every row as wide as the header."""
        match = self._match
        matched = [match(r) for r in records]
        plans = dict.fromkeys(plan for plan, _ in matched)
        if len(plans) <= 1:
            columns = matched[0][0].columns if matched else ()
            return list(columns), [cells for _, cells in matched]
        header: dict[str, int] = {}
        for plan in plans:
            for column in plan.columns:
                header.setdefault(column, len(header))
        full = tuple(header)
        # Per plan, a C-level getter that spreads its cells over the union header; a column the
        # plan lacks reads the empty cell appended after its cells.
        spreaders = {}
        for plan in plans:
            if plan.columns == full:
                spreaders[plan] = None
            else:
                where = {column: i for i, column in enumerate(plan.columns)}
                positions = [where.get(c, len(plan.columns)) for c in full]
                spreaders[plan] = (
                    itemgetter(*positions) if len(positions) > 1 else (lambda c, p=positions[0]: (c[p],))
                )
        rows = []
        for plan, cells in matched:
            spread = spreaders[plan]
            rows.append(cells if spread is None else spread((*cells, "")))
        return list(full), rows


def write_csv(records: Iterable[dict], out: TextIO, flattener: Flattener | None = None) -> int:
    """Write ``records`` as RFC 4180 CSV (CRLF, minimal quoting) to ``out``; returns the row count."""
    header, rows = (flattener or Flattener()).table(records)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return len(rows)


def to_csv(records: Iterable[dict]) -> str:
    """``records`` as one CSV document (a string)."""
    buffer = io.StringIO()
    write_csv(records, buffer)
    return buffer.getvalue()
