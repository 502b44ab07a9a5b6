"""Run the Pulumi program (``__main__.py``, unchanged) under Pulumi's mock runtime."""

from __future__ import annotations

import json
import re
import runpy
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.components.packaging import PROJECT_ROOT, layer_builds_skipped
from infra.sandbox.mocks import DeclaredResource, RecordingMocks

PROGRAM = PROJECT_ROOT / "__main__.py"
PROJECT = "stepworks"


class ProgramError(Exception):
    """The program failed under mocks; the message says why (config error, untranslatable type …)."""


class StackFileError(ProgramError):
    """``Pulumi.<stack>.yaml`` is missing or is not a stack file; the message names the file (and the
    line and column of a YAML error) and, for a missing one, the stacks that exist."""


# Pulumi's stack names: letters, digits, '-', '_' and '.' (no path separators).
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def existing_stacks() -> list[str]:
    """The stacks with a ``Pulumi.<stack>.yaml`` in the project, sorted."""
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in PROJECT_ROOT.glob("Pulumi.*.yaml"))


def stack_config_file(stack: str) -> Path:
    """``Pulumi.<stack>.yaml`` of the project (StackFileError if ``stack`` is not a stack name)."""
    if not isinstance(stack, str) or not _STACK_NAME.match(stack):
        shown = stack if isinstance(stack, str) and len(stack) <= 40 else f"{str(stack)[:40]}…"
        raise StackFileError(f"{shown!r} is not a stack name; allowed: letters, digits, '-', '_' and '.'")
    return PROJECT_ROOT / f"Pulumi.{stack}.yaml"


def load_stack_file(stack: str) -> dict[str, Any]:
    """The ``config:`` mapping of ``Pulumi.<stack>.yaml``.

    StackFileError (a ProgramError) when the file does not exist (naming the stacks that do), is
    not YAML (naming the line and column), or is not a stack file (a mapping whose ``config:`` is a
    mapping of ``namespace:key`` settings).
    """
    path = stack_config_file(stack)
    if not path.is_file():
        stacks = existing_stacks()
        listed = ", ".join(stacks) if stacks else "none"
        raise StackFileError(f"{path.name} does not exist (stack {stack!r} has no configuration); stacks: {listed}")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "not valid YAML"
        raise StackFileError(f"{path.name}{where}: YAML syntax error: {problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise StackFileError(f"{path.name}: not valid YAML: {' '.join(str(exc).split())[:200]}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(f"{path.name}: the top level must be a mapping (config: …), not a {_kind(document)}")
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: config: must be a mapping of namespace:key settings, not a {_kind(config)}")
    for key in config:
        if not isinstance(key, str) or ":" not in key.strip(":"):
            shown = str(key) if len(str(key)) <= 40 else f"{str(key)[:40]}…"
            raise StackFileError(f"{path.name}: config key {shown!r} is not of the form namespace:key (stepworks:…)")
    return dict(config)


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "value")


def _as_config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    # Pulumi hands structured values to the program as JSON text.
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


@dataclass
class ProgramRun:
    """What one run of the program declared and exported."""

    outputs: dict[str, Any]
    resources: list[DeclaredResource]

    def of_type(self, typ: str) -> list[DeclaredResource]:
        """Declared custom resources of one Pulumi type."""
        return [r for r in self.resources if r.typ == typ]

    @property
    def pipelines(self) -> list[str]:
        """The enabled pipelines, in the order the program built them (other outputs are the stack's own)."""
        from infra.workflows import WORKFLOWS

        return [name for name in self.outputs if name in WORKFLOWS]


def run_program(
    mocks: RecordingMocks,
    config: Mapping[str, Any],
    stack: str = "dev",
    secret_keys: list[str] | None = None,
    build_layers: bool = False,
) -> ProgramRun:
    """Run ``__main__.py`` fresh under ``mocks`` with ``config`` (full keys, e.g. ``aws:region``).

    Dependency layers are not built unless ``build_layers``: handlers never run from them under mocks.
    """
    pulumi_settings.reset_options(project=PROJECT, stack=stack)
    pulumi.runtime.set_all_config(_as_config_strings(config), secret_keys or [])
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()

    def program():
        runpy.run_path(str(PROGRAM), run_name="__main__")

    try:
        with nullcontext() if build_layers else layer_builds_skipped():
            _sync_await(run_pulumi_func(program))
            root = pulumi_settings.get_root_resource()
            outputs = _sync_await(pulumi.Output.from_input(dict(root.outputs)).future()) if root else {}
    except pulumi.RunError as exc:
        raise ProgramError(str(exc)) from exc
    except Exception as exc:
        errors = getattr(mocks, "errors", None)
        raise ProgramError("; ".join(errors) if errors else f"{type(exc).__name__}: {exc}") from exc
    return ProgramRun(outputs=outputs or {}, resources=list(mocks.resources))
