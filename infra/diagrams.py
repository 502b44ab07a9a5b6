"""Mermaid flowcharts of rendered state machine definitions (pure: a definition dict in, text out).

``python -m infra docs`` writes one per pipeline into ``docs/`` from the definitions the program
renders, and a test fails when the committed ones no longer match, so the diagrams cannot drift
from what is deployed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_OPERATORS = {
    "BooleanEquals": "==",
    "StringEquals": "==",
    "NumericEquals": "==",
    "NumericGreaterThan": ">",
    "NumericLessThan": "<",
    "NumericGreaterThanEquals": ">=",
    "NumericLessThanEquals": "<=",
}


def _node_id(prefix: str, name: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _text(value: str) -> str:
    return value.replace('"', "#quot;")


def _function_name(state: Mapping[str, Any]) -> str | None:
    target = (state.get("Parameters") or {}).get("FunctionName")
    return target.rsplit(":", 1)[-1] if isinstance(target, str) else None


def _rule_label(rule: Mapping[str, Any]) -> str:
    for combinator, joiner in (("And", " and "), ("Or", " or ")):
        if combinator in rule:
            return joiner.join(_rule_label(r) for r in rule[combinator])
    if "Not" in rule:
        return f"not ({_rule_label(rule['Not'])})"
    variable = rule.get("Variable", "?")
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key in _OPERATORS:
            shown = str(value).lower() if isinstance(value, bool) else value
            return f"{variable} {_OPERATORS[key]} {shown}"
        if key.startswith("Is"):
            return f"{variable} {key[2:].lower()}" if value else f"{variable} not {key[2:].lower()}"
        return f"{variable} {key} {value}"
    return variable


def _node(node: str, name: str, state: Mapping[str, Any]) -> str:
    kind = state.get("Type")
    if kind == "Task":
        details = [name]
        function = _function_name(state)
        details.append(f"λ {function}" if function else str(state.get("Resource", "")).rsplit(":", 1)[-1])
        retries = state.get("Retry") or []
        if retries:
            details.append(f"retry ×{max(r.get('MaxAttempts', 3) for r in retries)}")
        return f'{node}["{_text("<br/>".join(details))}"]'
    if kind == "Choice":
        return f'{node}{{"{_text(name)}"}}'
    if kind == "Pass":
        return f'{node}[/"{_text(name)}"/]'
    if kind in ("Succeed", "Fail"):
        return f'{node}(["{_text(name)} ({kind})"])'
    if kind == "Map":
        limit = state.get("MaxConcurrency")
        return f'{node}[["{_text(name)} (Map{f", {limit} at once" if limit else ""})"]]'
    if kind == "Parallel":
        return f'{node}[["{_text(name)} (Parallel)"]]'
    return f'{node}["{_text(name)} ({kind})"]'


def _machine(machine: Mapping[str, Any], prefix: str, lines: list[str], indent: str) -> None:
    states = machine.get("States", {})
    for name, state in states.items():
        lines.append(indent + _node(_node_id(prefix, name), name, state))
    for name, state in states.items():
        node = _node_id(prefix, name)
        if "Next" in state:
            lines.append(f"{indent}{node} --> {_node_id(prefix, state['Next'])}")
        for rule in state.get("Choices", []):
            lines.append(f'{indent}{node} -->|"{_text(_rule_label(rule))}"| {_node_id(prefix, rule["Next"])}')
        if "Default" in state:
            lines.append(f"{indent}{node} -->|default| {_node_id(prefix, state['Default'])}")
        for catch in state.get("Catch", []):
            label = _text(", ".join(catch["ErrorEquals"]))
            lines.append(f'{indent}{node} -.->|"{label}"| {_node_id(prefix, catch["Next"])}')
        inner = state.get("ItemProcessor") or state.get("Iterator")
        branches = [inner] if inner else state.get("Branches", [])
        for index, branch in enumerate(branches):
            sub = f"{node}_{index}_"
            title = "each item" if inner else f"branch {index + 1}"
            lines.append(f'{indent}subgraph {sub}box["{_text(name)}: {title}"]')
            _machine(branch, sub, lines, indent + "    ")
            lines.append(f"{indent}end")
            lines.append(f'{indent}{node} ==>|"{title}"| {_node_id(sub, branch["StartAt"])}')


def mermaid(definition: Mapping[str, Any]) -> str:
    """A top-down Mermaid flowchart: tasks (with their function and retries), choices with their
    rules, catches as dotted edges labelled with the errors, Map/Parallel bodies as subgraphs."""
    lines = ["flowchart TD", "    start((start)) --> " + _node_id("", definition["StartAt"])]
    _machine(definition, "", lines, "    ")
    return "\n".join(lines) + "\n"


def pipeline_page(pipeline: str, definition: Mapping[str, Any]) -> str:
    """The Markdown page of one pipeline's diagram."""
    comment = definition.get("Comment", "")
    timeout = definition.get("TimeoutSeconds")
    limit = f" The execution times out after {timeout // 60} minutes." if timeout else ""
    return (
        f"# {pipeline}\n\n"
        "<!-- Generated by `python -m infra docs` (make docs) from the rendered definition; do not edit. -->\n\n"
        f"{comment}{limit}\n\n"
        "Solid arrows are transitions, dotted arrows caught errors (named on them), thick arrows\n"
        "enter a Map or Parallel body.\n\n"
        f"```mermaid\n{mermaid(definition)}```\n"
    )
