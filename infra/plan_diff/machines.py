"""The states of a state machine definition, nested ones included, and what changed in each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.plan_diff.values import Change, ItemsChange, diff

# Fields holding child states: their states are compared one by one, the rest of them as fields.
NESTED = ("Branches", "ItemProcessor", "Iterator")
SEPARATOR = " › "


@dataclass
class StateChange:
    """A state present in both definitions whose fields differ."""

    name: str
    type: str
    fields: list[str]
    changes: list[Change | ItemsChange]


@dataclass
class MachineDiff:
    """One state machine's definition before and after."""

    added: list[tuple[str, str]] = field(default_factory=list)  # (state, Type)
    removed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[StateChange] = field(default_factory=list)
    top_level: list[Change | ItemsChange] = field(default_factory=list)  # StartAt, Comment, TimeoutSeconds …

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.top_level)


def _without_states(block: Any) -> Any:
    return {k: v for k, v in block.items() if k != "States"} if isinstance(block, dict) else block


def _own_fields(state: dict) -> dict:
    """A state without its child states (a Parallel keeps each branch's StartAt, a Map its processor config)."""
    own = {k: v for k, v in state.items() if k not in NESTED}
    for key in NESTED:
        if key in state:
            inner = state[key]
            own[key] = [_without_states(b) for b in inner] if isinstance(inner, list) else _without_states(inner)
    return own


def flatten_states(definition: dict, prefix: str = "") -> dict[str, dict]:
    """Every state by its qualified name (``Parent › Child`` inside a Parallel branch or a Map)."""
    found: dict[str, dict] = {}
    states = definition.get("States")
    if not isinstance(states, dict):
        return found
    for name, state in states.items():
        qualified = f"{prefix}{SEPARATOR}{name}" if prefix else name
        if not isinstance(state, dict):
            found[qualified] = {"Type": "?"}
            continue
        found[qualified] = _own_fields(state)
        for key in NESTED:
            inner = state.get(key)
            for block in inner if isinstance(inner, list) else [inner]:
                if isinstance(block, dict):
                    found.update(flatten_states(block, qualified))
    return found


def _top_field(change: Change | ItemsChange) -> str:
    path = change.path
    for index, char in enumerate(path):
        if char in ".[" and index:
            return path[:index]
    return path


def compare_machines(before: dict, after: dict) -> MachineDiff:
    """States added, removed and changed (with the fields that changed) between two definitions."""
    old, new = flatten_states(before), flatten_states(after)
    result = MachineDiff()
    result.added = [(name, str(new[name].get("Type", "?"))) for name in new if name not in old]
    result.removed = [(name, str(old[name].get("Type", "?"))) for name in old if name not in new]
    for name in (n for n in new if n in old):
        changes = diff(old[name], new[name])
        if changes:
            fields = list(dict.fromkeys(_top_field(c) for c in changes))
            result.changed.append(StateChange(name, str(new[name].get("Type", "?")), fields, changes))
    result.top_level = diff(_without_states(before), _without_states(after))
    return result
