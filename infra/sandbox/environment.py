"""The whole sandbox for a stack: emulator, the services each enabled pipeline needs, the deploy.

A pipeline that talks to a third party or a database has a ``PipelineServices`` (in
``infra/sandbox/services.py``, listed by ``_services``): it starts its loopback fakes (or a
PostgreSQL server) before the deploy, points the stack config at them, and after the deploy
does what an operator would (store an API token in the pipeline's secret).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from infra.sandbox.core import Sandbox
from infra.sandbox.program import load_stack_file


class PipelineServices(Protocol):
    """Loopback services one pipeline needs in the sandbox."""

    def start(self) -> Mapping[str, Any]:
        """Start the services; return stack config overrides pointing the pipeline at them."""

    def after_deploy(self, sandbox: Sandbox) -> None:
        """Operator steps once the program is deployed (store tokens in secrets …)."""

    def stop(self) -> None:
        """Stop the services."""


def _services() -> dict[str, type]:
    from infra.sandbox.services import IncidentsServices, RadarServices

    return {"radar": RadarServices, "incidents": IncidentsServices}


def merge_config(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Stack config with overrides; an object setting (a pipeline section) is merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def enabled_pipelines(stack: str) -> list[str]:
    """The pipelines ``Pulumi.<stack>.yaml`` enables (all known ones when it does not say)."""
    from infra.workflows import WORKFLOWS

    return list(load_stack_file(stack).get("stepworks:pipelines") or WORKFLOWS)


@contextlib.contextmanager
def sandbox_environment(stack: str = "dev", config_overrides: Mapping[str, Any] | None = None) -> Iterator[Sandbox]:
    """A deployed sandbox of ``stack`` with every enabled pipeline's services running."""
    factories = _services()
    services = {name: factories[name]() for name in enabled_pipelines(stack) if name in factories}
    overrides: dict[str, Any] = {}
    with contextlib.ExitStack() as stack_of_services:
        for service in services.values():
            overrides.update(service.start())
            stack_of_services.callback(service.stop)
        overrides = merge_config(overrides, config_overrides or {})
        with Sandbox(stack, merge_config(load_stack_file(stack), overrides)) as sandbox:
            sandbox.deploy()
            for service in services.values():
                service.after_deploy(sandbox)
            sandbox.services = services
            yield sandbox
