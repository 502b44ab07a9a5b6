"""Secrets read by ARN at run time through Powertools' cached Secrets Manager provider.

Tokens never travel in environment variables or state payloads: a function gets the secret's
ARN and reads the value here; the value is cached for ``max_age`` seconds per container.
"""

from __future__ import annotations

import functools
import json

from aws_lambda_powertools.utilities import parameters

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
