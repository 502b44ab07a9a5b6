"""StackContext: what every pipeline of a stack shares (naming, account, region, logging, log bucket)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from infra.components.packaging import LayerCatalog
from infra.components.trust import role_path
from pipelines.common.http import ALLOW_LOOPBACK_HTTP_ENV

if TYPE_CHECKING:
    from infra.components.bucket import AccessLogBucket
    from infra.components.operations import AlarmTarget, PipelineWatch


@dataclass(frozen=True)
class FunctionRuntime:
    """What every function of the stack shares: runtime, architecture, code, layers, log level."""

    runtime: str
    architecture: str
    log_level: str
    code: pulumi.Archive
    layers: LayerCatalog  # one layer per distinct set of packages the handlers import
    # The sandbox-only stepworks:sandboxLoopbackHttp: the functions may call plain-http loopback URLs.
    allow_loopback_http: bool = False

    @property
    def environment(self) -> dict[str, str]:
        """Variables every function of the stack gets (they win over a function's own)."""
        variables = {"POWERTOOLS_LOG_LEVEL": self.log_level}
        if self.allow_loopback_http:
            variables[ALLOW_LOOPBACK_HTTP_ENV] = "true"
        return variables


@dataclass(frozen=True)
class StackContext:
    """Stack-wide settings and resources a workflow component builds on."""

    name_prefix: str
    region: str
    account_id: pulumi.Input[str]
    log_retention_days: int
    functions: FunctionRuntime
    # Every SecureBucket logs its server access here (None only in tests of a single component).
    access_logs: AccessLogBucket | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # Where the alarms of every state machine, function and HTTP API go (None: no alarms, as in
    # tests of a single component). The components declare their own alarms through ``watch``.
    alarms: AlarmTarget | None = None

    def watch(self, pipeline: str) -> PipelineWatch | None:
        """What declares the alarms of ``pipeline``'s resources and lists them; None without alarms."""
        return self.alarms.watch(pipeline) if self.alarms is not None else None

    def owner(self, pipeline: str) -> str:
        """``sw-dev-radar``: the prefix of a pipeline's physical names."""
        return f"{self.name_prefix}-{pipeline}"

    def tags_for(self, pipeline: str) -> dict[str, str]:
        """The stack's tags plus ``pipeline``."""
        return {**self.tags, "pipeline": pipeline}

    def arn(self, service: str, resource: str) -> pulumi.Output[str]:
        """``arn:aws:<service>:<region>:<account>:<resource>`` of a resource not created yet."""
        return pulumi.Output.from_input(self.account_id).apply(
            lambda account: f"arn:aws:{service}:{self.region}:{account}:{resource}"
        )


@dataclass(frozen=True)
class PipelineOwner:
    """The pipeline a component belongs to: its stack and its name, and what derives from them."""

    stack: StackContext
    pipeline: str

    @property
    def tags(self) -> dict[str, str]:
        """The stack's tags plus ``pipeline``."""
        return self.stack.tags_for(self.pipeline)

    @property
    def role_path(self) -> str:
        """The IAM path every role of the pipeline lives under (key policies admit roles by it)."""
        return role_path(self.stack.name_prefix, self.pipeline)


def moved_from(former_parent: pulumi.Resource | None) -> list[pulumi.Alias]:
    """Aliases keeping a resource's identity (no replacement) when it moves under a new parent."""
    return [pulumi.Alias(parent=former_parent)] if former_parent is not None else []
