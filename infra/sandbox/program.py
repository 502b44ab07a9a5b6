"""Run the Pulumi program (``__main__.py``, unchanged) under Pulumi's mock runtime."""

from __future__ import annotations

import json
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


def stack_config_file(stack: str) -> Path:
    """``Pulumi.<stack>.yaml`` of the project."""
    return PROJECT_ROOT / f"Pulumi.{stack}.yaml"


def load_stack_file(stack: str) -> dict[str, Any]:
    """The ``config:`` mapping of ``Pulumi.<stack>.yaml`` (empty if there is none)."""
    path = stack_config_file(stack)
    if not path.exists():
        return {}
    return dict((yaml.safe_load(path.read_text()) or {}).get("config") or {})


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
