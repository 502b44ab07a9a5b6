"""Secrets read by ARN at run time through Powertools' cached Secrets Manager provider.

Tokens never travel in environment variables or state payloads: a function gets the secret's
ARN and reads the value here; the value is cached for ``max_age`` seconds per container.
"""

from __future__ import annotations

import functools
import json

from aws_lambda_powertools.utilities import parameters

from pipelines.common import clock
from pipelines.common.aws import client
from pipelines.common.errors import ConfigurationError

DEFAULT_MAX_AGE_SECONDS = 300


@functools.cache
def _provider_for(secrets_client) -> parameters.SecretsProvider:
    # One provider per client, so its value cache lives as long as the container does and, as
    # clients are per credentials (aws.client), a value read by one role is never served to another.
    return parameters.SecretsProvider(boto3_client=secrets_client)


def _provider() -> parameters.SecretsProvider:
    return _provider_for(client("secretsmanager"))


def reset_secret_cache() -> None:
    """Forget cached secret values (the sandbox calls this when a secret is rotated under test)."""
    _provider_for.cache_clear()
    _stage_cache_for.cache_clear()


def read_secret(arn: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> str:
    """The secret string stored at ``arn``; ConfigurationError if it is empty or unset."""
    try:
        value = _provider().get(arn, max_age=max_age)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError(f"secret {arn} cannot be read: {exc}") from None
    if not value:
        raise ConfigurationError(f"secret {arn} has no value; set it before running the pipeline")
    return value if isinstance(value, str) else value.decode()


def read_json_secret(arn: str, max_age: int = DEFAULT_MAX_AGE_SECONDS) -> dict:
    """The secret at ``arn`` parsed as a JSON object (RDS-managed credentials, for example)."""
    raw = read_secret(arn, max_age=max_age)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigurationError(f"secret {arn} is not JSON") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"secret {arn} is not a JSON object")
    return value


class _StageCache:
    """Values of secret version stages, each kept ``max_age`` seconds on ``clock`` (per client, like the provider).

    Powertools' provider keys its cache by name only: ``get(arn, VersionStage="AWSPREVIOUS")`` would
    answer with a cached AWSCURRENT value (or the other way round), so stages are read here instead.
    """

    def __init__(self, secrets_client):
        self._client = secrets_client
        self._values: dict[tuple[str, str], tuple[float, str | None]] = {}

    def read(self, arn: str, stage: str, max_age: float) -> str | None:
        cached = self._values.get((arn, stage))
        if cached is not None and clock.now() - cached[0] < max_age:
            return cached[1]
        try:
            answer = self._client.get_secret_value(SecretId=arn, VersionStage=stage)
        except self._client.exceptions.ResourceNotFoundException:
            value = None  # no version holds this stage (AWSPREVIOUS before the first rotation)
        except Exception as exc:  # noqa: BLE001 - every failure is the same to the caller: unreadable
            raise ConfigurationError(f"secret {arn} ({stage}) cannot be read: {type(exc).__name__}") from None
        else:
            value = answer.get("SecretString")
            if value is None and answer.get("SecretBinary") is not None:
                value = answer["SecretBinary"].decode()
        self._values[(arn, stage)] = (clock.now(), value)
        return value


@functools.cache
def _stage_cache_for(secrets_client) -> _StageCache:
    return _StageCache(secrets_client)


def read_secret_stages(
    arn: str, stages: tuple[str, ...] = ("AWSCURRENT", "AWSPREVIOUS"), max_age: float = DEFAULT_MAX_AGE_SECONDS
) -> dict[str, str | None]:
    """The value of each version stage of the secret at ``arn`` (None where no version holds it).

    For a shared secret being rotated: a caller that accepts AWSCURRENT or AWSPREVIOUS keeps working
    while the other side switches. Each value is cached ``max_age`` seconds; pass a smaller one to
    re-read sooner. ConfigurationError if the secret cannot be read.
    """
    cache = _stage_cache_for(client("secretsmanager"))
    return {stage: cache.read(arn, stage, max_age) for stage in stages}
