"""The whole sandbox for a stack: emulator, the services each enabled pipeline needs, the deploy.

A pipeline that talks to a third party or a database registers a ``PipelineServices`` in
``SERVICES``: it starts its loopback fakes (or a PostgreSQL server) before the deploy, points
the stack config at them, and after the deploy does what an operator would (store an API token
in the pipeline's secret).
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


# Pipeline name → factory of its sandbox services.
SERVICES: dict[str, type] = {}


def enabled_pipelines(stack: str) -> list[str]:
    """The pipelines ``Pulumi.<stack>.yaml`` enables (all known ones when it does not say)."""
    from infra.workflows import WORKFLOWS

    return list(load_stack_file(stack).get("stepworks:pipelines") or WORKFLOWS)


@contextlib.contextmanager
def sandbox_environment(stack: str = "dev", config_overrides: Mapping[str, Any] | None = None) -> Iterator[Sandbox]:
    """A deployed sandbox of ``stack`` with every enabled pipeline's services running."""
    services = {name: SERVICES[name]() for name in enabled_pipelines(stack) if name in SERVICES}
    overrides: dict[str, Any] = {}
    with contextlib.ExitStack() as stack_of_services:
        for service in services.values():
            overrides.update(service.start())
            stack_of_services.callback(service.stop)
        overrides.update(config_overrides or {})
        with Sandbox(stack, overrides) as sandbox:
            sandbox.deploy()
            for service in services.values():
                service.after_deploy(sandbox)
            sandbox.services = services
            yield sandbox
