"""The changed paths between two JSON values, and how to show a value in one short line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class _Missing:
    def __repr__(self) -> str:
        return "(none)"


MISSING: Any = _Missing()

# List items with one of these keys (all distinct) are matched by it, not by position.
IDENTITY_KEYS = ("Sid", "id", "Id", "name", "Name")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Change:
    """One path whose value differs; ``old``/``new`` is MISSING where the path is absent."""

    path: str
    old: Any = MISSING
    new: Any = MISSING


@dataclass(frozen=True)
class ItemsChange:
    """A list of plain values whose members changed (order aside): what came in and what went."""

    path: str
    added: tuple = ()
    removed: tuple = ()
    reordered: bool = False


def join(path: str, key: Any) -> str:
    """``path.key`` (or ``path["odd key"]``, ``path[3]``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def parse_json_text(value: Any) -> Any:
    """A JSON object or array held as text (a policy, a definition, an event pattern), parsed; else MISSING."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return MISSING
    return MISSING


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _identity(items: list) -> str | None:
    """The key every item is told apart by, if there is one."""
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in IDENTITY_KEYS:
        values = [item.get(key) for item in items]
        if all(_plain(v) and v is not None for v in values) and len(set(map(str, values))) == len(values):
            return key
    return None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def diff(old: Any, new: Any, path: str = "") -> list[Change | ItemsChange]:
    """Every path under which ``old`` and ``new`` differ, in document order.

    Objects are compared key by key, JSON text as what it parses to, lists of plain values as
    sets of members (order noted), lists of objects by an identity key where they have one
    (``rules[id=expire]``), else by position.
    """
    changes: list[Change | ItemsChange] = []
    _diff(old, new, path, changes)
    return changes


def _diff(old: Any, new: Any, path: str, changes: list) -> None:
    if old == new:  # Python's equality: 30 == 30.0 (the mock runtime passes numbers as floats)
        return
    old_doc, new_doc = parse_json_text(old), parse_json_text(new)
    if old_doc is not MISSING and new_doc is not MISSING:
        _diff(old_doc, new_doc, path, changes)
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            _diff(old.get(key, MISSING), new.get(key, MISSING), join(path, key), changes)
    elif isinstance(old, list) and isinstance(new, list):
        _diff_lists(old, new, path, changes)
    else:
        changes.append(Change(path, old, new))


def _diff_lists(old: list, new: list, path: str, changes: list) -> None:
    if all(map(_plain, old)) and all(map(_plain, new)):
        old_keys, new_keys = [_canonical(v) for v in old], [_canonical(v) for v in new]
        added = tuple(v for v, k in zip(new, new_keys, strict=True) if k not in old_keys)
        removed = tuple(v for v, k in zip(old, old_keys, strict=True) if k not in new_keys)
        reordered = not added and not removed and old_keys != new_keys
        if added or removed or reordered or sorted(old_keys) != sorted(new_keys):
            changes.append(ItemsChange(path, added, removed, reordered))
        return
    key = _identity(old) if _identity(old) == _identity(new) else None
    if key is None:
        for index in range(max(len(old), len(new))):
            _diff(
                old[index] if index < len(old) else MISSING,
                new[index] if index < len(new) else MISSING,
                join(path, index),
                changes,
            )
        return
    old_by, new_by = {str(i[key]): i for i in old}, {str(i[key]): i for i in new}
    for ident in [*old_by, *(k for k in new_by if k not in old_by)]:
        _diff(old_by.get(ident, MISSING), new_by.get(ident, MISSING), f"{path}[{key}={ident}]", changes)


def short(value: Any, limit: int = 80) -> str:
    """``value`` as one line of at most ``limit`` characters (the middle cut out, as ``…``)."""
    if value is MISSING:
        return "(none)"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)[1:-1]  # newlines and quotes escaped, no quotes around
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if len(text) <= limit:
        return text
    head = (limit - 1) * 3 // 5
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head) :]}"
