"""The whole sandbox for a stack: emulator, the services each deployed pipeline needs, the deploy.

A pipeline that talks to a third party or a database has a ``PipelineServices`` (in
``infra/sandbox/services.py``, listed by ``_services``): it starts its loopback fakes (or a
PostgreSQL server) before the deploy, points the stack config at them, and after the deploy
does what an operator would (store an API token in the pipeline's secret).

``sandbox_environment(stack, pipelines=["greeting"])`` deploys only the pipelines named (the
stack's ``stepworks:pipelines`` overridden) and starts only their services; ``progress`` is told
what is happening while it deploys (``python -m infra run`` prints it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from infra.sandbox import program
from infra.sandbox.database_url import check_database_url
from infra.sandbox.databases import DatabaseFleet
from infra.sandbox.postgres import TemporaryPostgres

if TYPE_CHECKING:
    from infra.sandbox.core import Sandbox

Progress = Callable[[str], None]


class PipelineServices(Protocol):
    """Loopback services one pipeline needs in the sandbox."""

    def start(self) -> Mapping[str, Any]:
        """Start the services; return stack config overrides pointing the pipeline at them."""

    def after_deploy(self, sandbox: Sandbox) -> None:
        """Operator steps once the program is deployed (store tokens in secrets …)."""

    def stop(self) -> None:
        """Stop the services."""


class PipelineNotEnabled(program.ProgramError):
    """A pipeline asked for is not one the stack deploys; the message lists the ones it does."""


def _services(config: Mapping[str, Any]) -> dict[str, Callable[[], Any]]:
    from infra.sandbox.services import (
        DailyAnalysisServices,
        IncidentsServices,
        RadarServices,
        ReleaseApprovalServices,
    )

    return {
        "radar": RadarServices,
        "incidents": IncidentsServices,
        "daily-analysis": lambda: DailyAnalysisServices.for_stack(config),
        "release-approval": ReleaseApprovalServices,
    }


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
    """The pipelines the program deploys for ``Pulumi.<stack>.yaml``: its ``stepworks:pipelines``, validated.

    Read through the program's own validation (``infra.config.load_stack_config``), so the
    sandbox never starts services for a pipeline the program would not build, and a bad list is
    the program's own error (a ``ProgramError``), raised before anything starts.
    """
    import pulumi

    from infra.config import NAMESPACE, load_stack_config
    from infra.sandbox.mocks import REGION
    from infra.workflows import WORKFLOWS

    key = f"{NAMESPACE}:pipelines"
    config = program.load_stack_file(stack)
    raw = {"pipelines": config[key]} if key in config else {}
    try:
        stack_config = load_stack_config(raw, stack=stack, region=REGION, known_pipelines=list(WORKFLOWS))
    except pulumi.RunError as exc:  # ConfigError: the message names the key
        raise program.ProgramError(str(exc)) from exc
    return list(stack_config.enabled_pipelines)


def select_pipelines(stack: str, pipelines: Sequence[str] | None) -> list[str]:
    """``pipelines`` if the stack enables each of them (all enabled ones for None); else PipelineNotEnabled."""
    enabled = enabled_pipelines(stack)
    if pipelines is None:
        return enabled
    from infra.workflows import REQUIRES

    # A pipeline that reads another's resources brings it along (daily-analysis: uploads).
    pipelines = [*dict.fromkeys(p for name in pipelines for p in (*REQUIRES.get(name, ()), name))]
    for name in pipelines:
        if name not in enabled:
            from infra.workflows import WORKFLOWS

            listed = f"enabled in stack {stack!r}: {', '.join(enabled) or 'none'}"
            if name in WORKFLOWS:
                where = f"{program.stack_config_file(stack).name}, stepworks:pipelines"
                raise PipelineNotEnabled(f"pipeline {name!r} is not enabled in stack {stack!r} ({where}); {listed}")
            raise PipelineNotEnabled(f"unknown pipeline {name!r}; pipelines: {', '.join(WORKFLOWS)} ({listed})")
    return list(dict.fromkeys(pipelines))


class ReportingFleet(DatabaseFleet):
    """The sandbox's database servers, saying when one starts and checking STEPWORKS_DATABASE_URL first."""

    def __init__(self, progress: Progress):
        super().__init__()
        self._progress = progress

    def provision(self, identifier: str, dbname: str, user: str) -> TemporaryPostgres:
        if identifier not in self:
            check_database_url()  # a bad URL names the variable, not a libpq parse error
            self._progress(f"starting PostgreSQL for RDS instance {identifier}…")
        return super().provision(identifier, dbname, user)


def _quiet(message: str) -> None:
    """The default progress: say nothing."""


@contextlib.contextmanager
def sandbox_environment(
    stack: str = "dev",
    config_overrides: Mapping[str, Any] | None = None,
    pipelines: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Iterator[Sandbox]:
    """A deployed sandbox of ``stack``: ``pipelines`` (default: every enabled one), their services running."""
    from infra.sandbox.core import Sandbox

    report = progress or _quiet
    deployed = select_pipelines(stack, pipelines)
    factories = _services(merge_config(program.load_stack_file(stack), config_overrides or {}))
    services = {name: factories[name]() for name in deployed if name in factories}
    overrides: dict[str, Any] = {}
    if pipelines is not None:
        overrides["stepworks:pipelines"] = deployed
    with contextlib.ExitStack() as stack_of_services:
        for name, service in services.items():
            report(f"starting the loopback services of {name}…")
            overrides.update(service.start())
            stack_of_services.callback(service.stop)
        overrides = merge_config(overrides, config_overrides or {})
        with Sandbox(stack, merge_config(program.load_stack_file(stack), overrides)) as sandbox:
            sandbox.databases = ReportingFleet(report)
            sandbox.deploy()
            for service in services.values():
                service.after_deploy(sandbox)
            sandbox.services = services
            yield sandbox
