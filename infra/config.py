"""A typed, validated view of stack configuration.

Only ``__main__.py`` reads Pulumi's configuration; it hands every ``stepworks:*`` value to
``load_stack_config`` (``stepworks_settings`` picks them out of the whole config map).
Every bad value raises ``ConfigError`` with one line naming the key and what is allowed;
``ConfigError`` is a ``pulumi.RunError`` so Pulumi prints that line without a stack trace.

Strict everywhere: every key under ``stepworks:`` must be known (``Section.reject_unknown``,
which names the closest known key), at the top level, in every pipeline's section (enabled or
not) and in every nested section. Error messages quote at most a short prefix of a bad value.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from pipelines.common.http import url_problem

NAMESPACE = "stepworks"
# The setting that lets URL settings use plain http to a loopback host (the sandbox's fakes).
# Sandbox-only: the program refuses it outside Pulumi's mock runtime.
SANDBOX_LOOPBACK_HTTP = "sandboxLoopbackHttp"
# Longest prefix of a bad value a message quotes.
QUOTE_LIMIT = 40

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


def _shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def describe(value: Any) -> str:
    """A bad value for a message: quoted if a string, at most a short prefix of it."""
    if isinstance(value, str):
        return f'"{_shorten(value)}"'
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return _shorten(text)


def closest(name: str, known: Sequence[str]) -> str | None:
    """The known name closest to ``name`` (case-insensitive), if any is close enough."""
    by_lower = {k.lower(): k for k in known}
    match = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


@functools.cache
def aws_regions(partition: str = "aws") -> tuple[str, ...]:
    """The regions botocore knows in ``partition`` (its endpoints and partitions data)."""
    return tuple(sorted(_known_regions().get(partition, set())))


@functools.cache
def _known_regions() -> dict[str, set[str]]:
    from botocore.loaders import create_loader

    loader = create_loader()
    regions: dict[str, set[str]] = {}
    for data, id_key in (("endpoints", "partition"), ("partitions", "id")):
        try:
            document = loader.load_data(data)
        except Exception:  # noqa: BLE001 - an older botocore may lack one of the two files
            continue
        for partition in document.get("partitions", []):
            names = {r for r in partition.get("regions", {}) if not r.endswith("-global")}
            regions.setdefault(partition[id_key], set()).update(names)
    return regions


def validate_region(region: Any) -> str:
    """``region`` if it is a region of the ``aws`` partition (the program builds ``arn:aws:`` ARNs)."""
    allowed = aws_regions()
    if isinstance(region, str) and region in allowed:
        return region
    other = next((p for p, names in _known_regions().items() if p != "aws" and region in names), None)
    hint = ""
    if other is not None:
        problem = f"is in partition {other}, which stepworks does not support (its ARNs are arn:aws:…)"
    else:
        problem = "is not an AWS region"
        suggestion = closest(region, allowed) if isinstance(region, str) else None
        hint = f" did you mean {suggestion}?" if suggestion else ""
    raise ConfigError(f"aws:region: {describe(region)} {problem};{hint} allowed: {', '.join(allowed)}")


def validate_schedule_expression(key: str, value: Any) -> str:
    """A valid EventBridge Scheduler expression: ``rate(...)``, ``cron(6 fields)`` or ``at(...)``."""
    if isinstance(value, str):
        rate = _RATE.match(value)
        if rate and int(rate.group(1)) > 0 and (rate.group(1) == "1") == (not rate.group(2).endswith("s")):
            return value
        if _CRON.match(value) or _AT.match(value):
            return value
    raise ConfigError(
        f"{key}: {describe(value)} is not a schedule expression; allowed: "
        "rate(<n> minute(s)|hour(s)|day(s)), cron(<6 fields>) or at(yyyy-mm-ddThh:mm:ss)"
    )


_IAM_PRINCIPAL = re.compile(r"arn:aws:iam::\d{12}:(root|(role|user)/[\w+=,.@/-]{1,512})")


class Section:
    """Typed readers over one mapping of config values, naming ``prefix.key`` in every error.

    Every reader of a section calls ``reject_unknown`` with the keys it defines; the program
    refuses to run when a section with values was read without it (``unchecked``).
    ``loopback_http``: URL settings may use plain http to a loopback host (the sandbox-only
    ``stepworks:sandboxLoopbackHttp``); nested sections inherit it.
    """

    def __init__(self, prefix: str, values: Mapping[str, Any] | None, *, loopback_http: bool = False):
        if values is not None and not isinstance(values, Mapping):
            raise ConfigError(f"{prefix}: must be an object, got {describe(values)}")
        self.prefix = prefix
        self.values = dict(values or {})
        self.loopback_http = loopback_http
        self.checked = False
        self._children: list[Section] = []

    def key(self, name: str) -> str:
        """The full config key of ``name`` for messages."""
        name = _shorten(str(name))
        return f"{self.prefix}.{name}" if "." in self.prefix or ":" in self.prefix else f"{self.prefix}:{name}"

    def reject_unknown(self, known: Sequence[str]) -> None:
        """Fail on keys this section does not define, naming the closest known one (``memroy`` → memory)."""
        self.checked = True
        for name in self.values:
            if name not in known:
                suggestion = closest(name, known)
                hint = f" did you mean {self.key(suggestion)}?" if suggestion else ""
                raise ConfigError(f"{self.key(name)}: unknown setting;{hint} allowed: {', '.join(sorted(known))}")

    def unchecked(self) -> Iterator[str]:
        """Prefixes of this section and its nested sections read with values but never ``reject_unknown``-ed."""
        if self.values and not self.checked:
            yield self.prefix
        for child in self._children:
            yield from child.unchecked()

    def string(self, name: str, default: str | None = None, allowed: Sequence[str] | None = None) -> str | None:
        """A string, optionally one of ``allowed``."""
        value = self.values.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            what = f"one of {', '.join(allowed)}" if allowed else "a string"
            raise ConfigError(f"{self.key(name)}: {describe(value)} is not allowed; allowed: {what}")
        return value

    def integer(self, name: str, default: int, low: int, high: int, allowed: str | None = None) -> int:
        """An integer within ``[low, high]``: "not a number" for anything else, "out of range" for a
        number outside (``allowed`` replaces ``low–high`` in messages)."""
        value = self.values.get(name, default)
        what = allowed or f"{low}–{high}"
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, float):
            raise ConfigError(f"{self.key(name)}: {describe(value)} is not a whole number; allowed: {what}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.key(name)}: {describe(value)} is not a number; allowed: {what}")
        if not low <= value <= high:
            raise ConfigError(f"{self.key(name)}: {describe(value)} is out of range; allowed: {what}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """A boolean (``true``/``false``)."""
        value = self.values.get(name, default)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: {describe(value)} is not allowed; allowed: true or false")
        return value

    def number(self, name: str, default: float, low: float, high: float, allowed: str | None = None) -> float:
        """A number within ``[low, high]`` (or the string ``pulumi config set`` stores, ``"0.01"``)."""
        value = self.values.get(name, default)
        what = allowed or f"{low:g}–{high:g}"
        if isinstance(value, str):
            try:
                value = float(value) if value.strip() else value
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ConfigError(f"{self.key(name)}: {describe(value)} is not a number; allowed: {what}")
        if not low <= value <= high:
            raise ConfigError(f"{self.key(name)}: {describe(value)} is out of range; allowed: {what}")
        return float(value)

    def fraction(self, name: str, default: float) -> float:
        """A number within 0–1 (``0.01`` or the string ``pulumi config set`` stores, ``"0.01"``)."""
        return self.number(name, default, 0, 1, "0–1 (0.01 is 1 %)")

    def email_list(self, name: str) -> tuple[str, ...]:
        """A list of e-mail addresses (each ``local@domain.tld``, no duplicates)."""
        value = self.string_list(name)
        for address in value:
            if not re.fullmatch(r"[^@\s,;<>]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", address):
                raise ConfigError(f"{self.key(name)}: {describe(address)} is not an e-mail address")
        if len(set(value)) != len(value):
            raise ConfigError(f"{self.key(name)}: lists an address twice")
        return value

    def iam_principals(self, name: str) -> tuple[str, ...]:
        """IAM principals by ARN: an account root, a role or a user of the ``aws`` partition, no duplicates."""
        value = self.string_list(name)
        for arn in value:
            if not _IAM_PRINCIPAL.fullmatch(arn):
                raise ConfigError(
                    f"{self.key(name)}: {describe(arn)} is not an IAM role, user or account ARN "
                    "(arn:aws:iam::<account>:role/<name>, …:user/<name> or …:root)"
                )
        if len(set(value)) != len(value):
            raise ConfigError(f"{self.key(name)}: lists a principal twice")
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
                f"{self.key(name)}: {describe(value)} is not a time zone; allowed: an IANA name such as UTC"
            ) from None
        return value

    def string_list(
        self, name: str, default: Sequence[str] = (), allowed: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        """A list of strings, each one of ``allowed`` if given."""
        value = self.values.get(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{self.key(name)}: {describe(value)} is not allowed; allowed: a list of strings")
        for item in value:
            if allowed is not None and item not in allowed:
                raise ConfigError(f"{self.key(name)}: unknown value {describe(item)}; allowed: {', '.join(allowed)}")
        return tuple(value)

    def service_url(self, name: str, default: str | None = None, *, sandbox_loopback: bool = True) -> str | None:
        """An https URL, parsed (``pipelines.common.http.url_problem``: a DNS name or IP literal, no
        user info, no fragment). Plain http only to a loopback host, only when the stack sets the
        sandbox-only ``stepworks:sandboxLoopbackHttp`` (and ``sandbox_loopback``)."""
        value = self.values.get(name, default)
        if value is None:
            return None
        problem = url_problem(value, allow_loopback_http=self.loopback_http and sandbox_loopback)
        if problem is not None:
            if problem.startswith("plain http to a loopback host"):
                problem += f" ({NAMESPACE}:{SANDBOX_LOOPBACK_HTTP}: true)"
            quoted = describe(_without_userinfo(value)) if isinstance(value, str) else describe(value)
            raise ConfigError(
                f"{self.key(name)}: {quoted} is not allowed: {problem}; "
                "allowed: an https URL (https://host[:port][/path]) without user info or fragment"
            )
        return value

    def section(self, name: str) -> Section:
        """A nested object (its reader must call ``reject_unknown`` too)."""
        child = Section(self.key(name), self.values.get(name), loopback_http=self.loopback_http)
        self._children.append(child)
        return child

    def raw(self, name: str, default: Any = None) -> Any:
        """The unvalidated value (for a workflow that validates it with its own logic)."""
        return self.values.get(name, default)

    def parsed(self, name: str, default: Any, parse: Callable[[Any], Any]) -> Any:
        """The value as ``parse`` checks it; its TypeError or ValueError becomes a ConfigError naming the key."""
        try:
            return parse(self.values.get(name, default))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.key(name)}: {exc}") from None

    def matching(self, name: str, pattern: re.Pattern[str], expected: str) -> str | None:
        """An optional string that ``pattern`` matches whole; else a ConfigError saying what was ``expected``."""
        value = self.string(name)
        if value is not None and not pattern.fullmatch(value):
            raise ConfigError(f"{self.key(name)}: {value!r} is not {expected}")
        return value


def _without_userinfo(url: str) -> str:
    # Credentials in a URL must not reach a message: ``https://user:pass@host`` → ``https://…@host``.
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if sep and "@" in authority:
        return f"{scheme}://…@{authority.rpartition('@')[2]}{slash}{path}"
    return url


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


OPERATIONS = "operations"
# The alarm period CloudWatch allows with one evaluation period: a minute to a day.
ALARM_PERIOD_RANGE_MINUTES = (1, 1440)


@dataclass(frozen=True)
class OperationsSettings:
    """``stepworks:operations``: who the stack's alarms e-mail, and the period they are judged over."""

    alert_emails: tuple[str, ...] = ()
    alarm_period_minutes: int = 5

    @classmethod
    def from_section(cls, section: Section) -> OperationsSettings:
        """Validate the section (unknown keys are errors)."""
        section.reject_unknown(["alertEmails", "alarmPeriodMinutes"])
        return cls(
            alert_emails=section.email_list("alertEmails"),
            alarm_period_minutes=section.integer("alarmPeriodMinutes", 5, *ALARM_PERIOD_RANGE_MINUTES),
        )

    @property
    def alarm_period_s(self) -> int:
        """The alarms' period in seconds."""
        return self.alarm_period_minutes * 60


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
    # ``stepworks:sandboxLoopbackHttp``: URL settings and the functions may use plain http to loopback.
    sandbox_loopback_http: bool = False
    # ``stepworks:operations``: the alarms' topic subscriptions and period.
    operations: OperationsSettings = field(default_factory=OperationsSettings)

    @property
    def resource_prefix(self) -> str:
        """Prefix of explicitly named resources (functions, log groups), unique per stack."""
        return f"sw-{self.stack}"

    def pipeline(self, name: str) -> Section:
        """The validated-on-read settings section of pipeline ``name``."""
        return self.pipeline_sections.get(name) or Section(f"{NAMESPACE}:{name}", None)

    def require_all_checked(self) -> None:
        """Fail if a section with values was read without ``reject_unknown`` (a reader's bug: its
        unknown keys would be ignored silently). The program calls it once every section is read."""
        unchecked = [prefix for section in self.pipeline_sections.values() for prefix in section.unchecked()]
        if unchecked:
            raise ConfigError(
                f"{unchecked[0]}: read without checking for unknown keys (a stepworks bug: its reader "
                "must call Section.reject_unknown)"
            )


TOP_LEVEL_KEYS = (
    "pipelines",
    "logRetentionDays",
    "accessLogRetentionDays",
    "lambdaRuntime",
    "lambdaArchitecture",
    "logLevel",
    "tags",
    OPERATIONS,
    SANDBOX_LOOPBACK_HTTP,
)


def stepworks_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``stepworks:*`` values of Pulumi's whole config map (``namespace:key`` → text), by key,
    JSON-decoded (Pulumi hands structured values over as JSON text).

    A key in a namespace that is a near miss of ``stepworks`` (``stepwork:logLevel``) is an error:
    Pulumi would ignore it silently.
    """
    raw: dict[str, Any] = {}
    for full_key, value in config.items():
        namespace, colon, key = str(full_key).partition(":")
        if not colon:
            continue
        if namespace != NAMESPACE:
            if namespace.lower() == NAMESPACE or difflib.get_close_matches(namespace.lower(), [NAMESPACE], cutoff=0.8):
                raise ConfigError(
                    f"{_shorten(str(full_key))}: unknown namespace {describe(namespace)}; "
                    f"did you mean {NAMESPACE}:{_shorten(key)}?"
                )
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # a plain string setting
        raw[key] = value
    return raw


def load_stack_config(
    raw: Mapping[str, Any],
    *,
    stack: str,
    region: str,
    known_pipelines: Sequence[str],
    in_sandbox: bool = False,
) -> StackConfig:
    """Validate raw ``stepworks:*`` values (already JSON-decoded) into a StackConfig.

    ``region`` (``aws:region``) is checked first. ``in_sandbox``: the program runs under Pulumi's
    mock runtime (the sandbox, tests), the only place ``stepworks:sandboxLoopbackHttp`` is allowed.
    """
    region = validate_region(region)
    top = Section(NAMESPACE, raw)
    top.reject_unknown([*TOP_LEVEL_KEYS, *known_pipelines])
    all_pipelines = ", ".join(known_pipelines)
    if top.raw("pipelines") == []:
        raise ConfigError(
            f"{NAMESPACE}:pipelines: the list is empty; list at least one of {all_pipelines}, "
            "or remove the key to deploy all"
        )
    enabled = top.string_list("pipelines", default=known_pipelines)
    for name in enabled:
        if name not in known_pipelines:
            suggestion = closest(name, known_pipelines)
            hint = f" did you mean {suggestion}?" if suggestion else ""
            raise ConfigError(
                f"{NAMESPACE}:pipelines: unknown pipeline {describe(name)};{hint} allowed: {all_pipelines}"
            )
    loopback_http = top.boolean(SANDBOX_LOOPBACK_HTTP, False)
    if loopback_http and not in_sandbox:
        raise ConfigError(
            f"{NAMESPACE}:{SANDBOX_LOOPBACK_HTTP}: a sandbox-only setting (plain http to loopback, for the "
            "sandbox's fakes); a real deployment refuses it; allowed: false, or remove the key"
        )
    retentions = ", ".join(map(str, LOG_RETENTION_DAYS))
    retention = top.integer("logRetentionDays", 30, 1, 3653, allowed=retentions)
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError(
            f"{NAMESPACE}:logRetentionDays: {retention} is not a retention CloudWatch accepts; allowed: {retentions}"
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
        raise ConfigError(f"{NAMESPACE}:tags: {describe(tags)} is not allowed; allowed: an object of string values")
    operations = OperationsSettings.from_section(top.section(OPERATIONS))
    sections = {
        name: Section(f"{NAMESPACE}:{name}", raw.get(name), loopback_http=loopback_http) for name in known_pipelines
    }
    return StackConfig(
        stack=stack,
        region=region,
        enabled_pipelines=tuple(dict.fromkeys(enabled)),
        functions=functions,
        tags={"project": "stepworks", "stack": stack, **tags},
        pipeline_sections=sections,
        access_log_retention_days=access_log_retention_days,
        sandbox_loopback_http=loopback_http,
        operations=operations,
    )
