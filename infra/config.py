"""A typed, validated view of stack configuration.

Only ``__main__.py`` reads ``pulumi.Config``; it hands the raw values to ``load_stack_config``.
Every bad value raises ``ConfigError`` with one line naming the key and what is allowed;
``ConfigError`` is a ``pulumi.RunError`` so Pulumi prints that line without a stack trace.
"""

from __future__ import annotations

import re
import urllib.parse
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

NAMESPACE = "stepworks"

# The values CloudWatch Logs accepts for retentionInDays.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
LAMBDA_RUNTIMES = ("python3.11", "python3.12", "python3.13")
LAMBDA_ARCHITECTURES = ("x86_64", "arm64")
MEMORY_RANGE_MB = (128, 10240)
TIMEOUT_RANGE_S = (1, 900)

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^\s()]+ ){5}[^\s()]+\)$")
_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")


class ConfigError(pulumi.RunError):
    """A stack setting is invalid; the message names the key and what is allowed."""


def _describe(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def validate_schedule_expression(key: str, value: Any) -> str:
    """A valid EventBridge Scheduler expression: ``rate(...)``, ``cron(6 fields)`` or ``at(...)``."""
    if isinstance(value, str):
        rate = _RATE.match(value)
        if rate and int(rate.group(1)) > 0 and (rate.group(1) == "1") == (not rate.group(2).endswith("s")):
            return value
        if _CRON.match(value) or _AT.match(value):
            return value
    raise ConfigError(
        f"{key}: {_describe(value)} is not a schedule expression; allowed: "
        "rate(<n> minute(s)|hour(s)|day(s)), cron(<6 fields>) or at(yyyy-mm-ddThh:mm:ss)"
    )


class Section:
    """Typed readers over one mapping of config values, naming ``prefix.key`` in every error."""

    def __init__(self, prefix: str, values: Mapping[str, Any] | None):
        if values is not None and not isinstance(values, Mapping):
            raise ConfigError(f"{prefix}: must be an object, got {_describe(values)}")
        self.prefix = prefix
        self.values = dict(values or {})

    def key(self, name: str) -> str:
        """The full config key of ``name`` for messages."""
        return f"{self.prefix}.{name}" if "." in self.prefix or ":" in self.prefix else f"{self.prefix}:{name}"

    def reject_unknown(self, known: Sequence[str]) -> None:
        """Fail on keys this section does not define (catches typos such as ``memroy``)."""
        for name in self.values:
            if name not in known:
                raise ConfigError(f"{self.key(name)}: unknown setting; allowed: {', '.join(sorted(known))}")

    def string(self, name: str, default: str | None = None, allowed: Sequence[str] | None = None) -> str | None:
        """A string, optionally one of ``allowed``."""
        value = self.values.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            what = f"one of {', '.join(allowed)}" if allowed else "a string"
            raise ConfigError(f"{self.key(name)}: {_describe(value)} is not allowed; allowed: {what}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """An integer within ``[low, high]``."""
        value = self.values.get(name, default)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{self.key(name)}: {_describe(value)} is out of range; allowed: {low}–{high}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """A boolean (``true``/``false``)."""
        value = self.values.get(name, default)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: {_describe(value)} is not allowed; allowed: true or false")
        return value

    def memory_mb(self, name: str = "memory", default: int = 256) -> int:
        """Lambda memory in MB (128–10240)."""
        return self.integer(name, default, *MEMORY_RANGE_MB)

    def timeout_s(self, name: str = "timeout", default: int = 30) -> int:
        """Lambda timeout in seconds (1–900)."""
        return self.integer(name, default, *TIMEOUT_RANGE_S)

    def schedule(self, name: str = "schedule", default: str = "rate(1 day)") -> str:
        """An EventBridge Scheduler expression."""
        return validate_schedule_expression(self.key(name), self.values.get(name, default))

    def timezone(self, name: str = "timezone", default: str = "UTC") -> str:
        """An IANA time zone name."""
        value = self.values.get(name, default)
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigError(
                f"{self.key(name)}: {_describe(value)} is not a time zone; allowed: an IANA name such as UTC"
            ) from None
        return value

    def string_list(
        self, name: str, default: Sequence[str] = (), allowed: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        """A list of strings, each one of ``allowed`` if given."""
        value = self.values.get(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{self.key(name)}: {_describe(value)} is not allowed; allowed: a list of strings")
        for item in value:
            if allowed is not None and item not in allowed:
                raise ConfigError(f'{self.key(name)}: unknown value "{item}"; allowed: {", ".join(allowed)}')
        return tuple(value)

    def service_url(self, name: str, default: str | None = None) -> str | None:
        """An HTTPS URL (plain HTTP only to 127.0.0.1, where the sandbox serves its fakes)."""
        value = self.string(name, default)
        if value is None:
            return None
        parts = urllib.parse.urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname == "127.0.0.1"
        if not ((parts.scheme == "https" or loopback) and parts.hostname and not parts.username):
            raise ConfigError(f"{self.key(name)}: {_describe(value)} is not allowed; allowed: an https URL")
        return value

    def section(self, name: str) -> Section:
        """A nested object."""
        return Section(self.key(name), self.values.get(name))

    def raw(self, name: str, default: Any = None) -> Any:
        """The unvalidated value (for a workflow that validates it with its own logic)."""
        return self.values.get(name, default)


# AWS's default concurrency quota per account and region; a reservation cannot exceed it.
MAX_RESERVED_CONCURRENCY = 1000
FUNCTION_KEYS = ("memory", "timeout", "reservedConcurrency")


@dataclass(frozen=True)
class FunctionSettings:
    """A pipeline's function sizing: ``memory``, ``timeout`` and ``reservedConcurrency`` of its section."""

    memory_mb: int = 256
    timeout_s: int = 30
    # None: the functions share the account's unreserved pool (the default; see README).
    reserved_concurrency: int | None = None

    @classmethod
    def from_section(cls, section: Section, memory_mb: int, timeout_s: int) -> FunctionSettings:
        """Read the three keys (``FUNCTION_KEYS``) with the pipeline's defaults."""
        reserved = section.raw("reservedConcurrency")
        if reserved is not None:
            if reserved in (0, "0"):
                raise ConfigError(
                    f"{section.key('reservedConcurrency')}: 0 throttles every invocation; allowed: "
                    f"1–{MAX_RESERVED_CONCURRENCY}, or unset (to stop a pipeline, disable its trigger)"
                )
            reserved = section.integer("reservedConcurrency", 1, 1, MAX_RESERVED_CONCURRENCY)
        return cls(
            memory_mb=section.memory_mb(default=memory_mb),
            timeout_s=section.timeout_s(default=timeout_s),
            reserved_concurrency=reserved,
        )


@dataclass(frozen=True)
class FunctionDefaults:
    """Settings every Lambda function of the stack shares."""

    runtime: str = "python3.12"
    architecture: str = "x86_64"
    log_retention_days: int = 30
    log_level: str = "INFO"


@dataclass(frozen=True)
class StackConfig:
    """Everything the program needs from stack configuration, validated."""

    stack: str
    region: str
    enabled_pipelines: tuple[str, ...]
    functions: FunctionDefaults
    tags: Mapping[str, str]
    pipeline_sections: Mapping[str, Section] = field(default_factory=dict)
    # Days the stack's log bucket keeps S3 server access logs.
    access_log_retention_days: int = 365

    @property
    def resource_prefix(self) -> str:
        """Prefix of explicitly named resources (functions, log groups), unique per stack."""
        return f"sw-{self.stack}"

    def pipeline(self, name: str) -> Section:
        """The validated-on-read settings section of pipeline ``name``."""
        return self.pipeline_sections.get(name) or Section(f"{NAMESPACE}:{name}", None)


TOP_LEVEL_KEYS = (
    "pipelines",
    "logRetentionDays",
    "accessLogRetentionDays",
    "lambdaRuntime",
    "lambdaArchitecture",
    "logLevel",
    "tags",
)


def load_stack_config(
    raw: Mapping[str, Any], *, stack: str, region: str, known_pipelines: Sequence[str]
) -> StackConfig:
    """Validate raw ``stepworks:*`` values (already JSON-decoded) into a StackConfig."""
    top = Section(NAMESPACE, {k: v for k, v in raw.items() if k not in known_pipelines})
    top.reject_unknown([*TOP_LEVEL_KEYS])
    enabled = top.string_list("pipelines", default=known_pipelines)
    for name in enabled:
        if name not in known_pipelines:
            raise ConfigError(
                f"{NAMESPACE}:pipelines: unknown pipeline {_describe(name)}; allowed: {', '.join(known_pipelines)}"
            )
    retention = top.integer("logRetentionDays", 30, 1, 3653)
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError(
            f"{NAMESPACE}:logRetentionDays: {retention} is not a retention CloudWatch accepts; "
            f"allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    functions = FunctionDefaults(
        runtime=top.string("lambdaRuntime", "python3.12", LAMBDA_RUNTIMES),
        architecture=top.string("lambdaArchitecture", "x86_64", LAMBDA_ARCHITECTURES),
        log_retention_days=retention,
        log_level=top.string("logLevel", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
    )
    access_log_retention_days = top.integer("accessLogRetentionDays", 365, 1, 3653)
    tags = top.raw("tags", {})
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ConfigError(f"{NAMESPACE}:tags: {_describe(tags)} is not allowed; allowed: an object of string values")
    sections = {name: Section(f"{NAMESPACE}:{name}", raw.get(name)) for name in known_pipelines}
    return StackConfig(
        stack=stack,
        region=region,
        enabled_pipelines=tuple(dict.fromkeys(enabled)),
        functions=functions,
        tags={"project": "stepworks", "stack": stack, **tags},
        pipeline_sections=sections,
        access_log_retention_days=access_log_retention_days,
    )
