"""The incidents functions' settings, read from the environment at call time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipelines.common.errors import ConfigurationError
from pipelines.common.http import require_secure_url
from pipelines.common.secrets import read_json_secret, read_secret
from pipelines.common.settings import int_env, optional_env, require_env
from pipelines.incidents.store import ConnectionParams

DEFAULT_API_BASE_URL = "https://api.pagerduty.com"
DEFAULT_SSLMODE = "verify-full"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# The Amazon RDS root CAs, shipped with the code because functions have no route to download them.
BUNDLED_RDS_CA = Path(__file__).with_name("rds-ca-bundle.pem")
DEFAULT_LOAD_BATCH_SIZE = 5000


@dataclass(frozen=True)
class PagerDutySettings:
    base_url: str
    token_secret_arn: str


def pagerduty_settings() -> PagerDutySettings:
    """PAGERDUTY_API_BASE_URL (default the public API) and PAGERDUTY_TOKEN_SECRET_ARN.

    The URL is checked here, before the token is read: https only (``require_secure_url``).
    """
    return PagerDutySettings(
        base_url=require_secure_url(
            optional_env("PAGERDUTY_API_BASE_URL", DEFAULT_API_BASE_URL), "PAGERDUTY_API_BASE_URL"
        ),
        token_secret_arn=require_env("PAGERDUTY_TOKEN_SECRET_ARN"),
    )


def pagerduty_token(settings: PagerDutySettings) -> str:
    """The API token: the secret's string, or its ``token`` field when the secret is a JSON object."""
    raw = read_secret(settings.token_secret_arn).strip()
    if raw.startswith("{"):
        try:
            raw = str(json.loads(raw).get("token") or "").strip()
        except (json.JSONDecodeError, AttributeError):
            raise ConfigurationError(f"secret {settings.token_secret_arn} is neither a token nor JSON") from None
    if not raw:
        raise ConfigurationError(f"secret {settings.token_secret_arn} holds no PagerDuty token")
    return raw


def _sslrootcert(sslmode: str) -> str | None:
    # libpq treats sslmode=require as verify-ca whenever a root file is given, so only the
    # verifying modes get one.
    if sslmode not in ("verify-ca", "verify-full"):
        return None
    path = optional_env("DB_SSLROOTCERT", str(BUNDLED_RDS_CA))
    if not Path(path).is_file():
        raise ConfigurationError(f"DB_SSLROOTCERT {path} does not exist in the function package")
    return path


def database_params() -> ConnectionParams:
    """DB_HOST, DB_PORT, DB_NAME, DB_SSLMODE, DB_SSLROOTCERT and the DB_SECRET_ARN credentials."""
    host, dbname = require_env("DB_HOST"), require_env("DB_NAME")
    sslmode = optional_env("DB_SSLMODE", DEFAULT_SSLMODE)
    if sslmode not in SSL_MODES:
        raise ConfigurationError(f"DB_SSLMODE must be one of {', '.join(SSL_MODES)}, got {sslmode!r}")
    secret_arn = require_env("DB_SECRET_ARN")
    secret = read_json_secret(secret_arn)
    user, password = secret.get("username"), secret.get("password")
    if not isinstance(user, str) or not user or not isinstance(password, str) or not password:
        raise ConfigurationError(f"secret {secret_arn} must hold a JSON object with username and password")
    return ConnectionParams(
        host=host,
        port=int_env("DB_PORT", 5432),
        dbname=dbname,
        user=user,
        password=password,
        sslmode=sslmode,
        sslrootcert=_sslrootcert(sslmode),
    )


def load_batch_size() -> int:
    """Incidents per load transaction (LOAD_BATCH_SIZE, default 5000)."""
    size = int_env("LOAD_BATCH_SIZE", DEFAULT_LOAD_BATCH_SIZE)
    if size < 1:
        raise ConfigurationError("LOAD_BATCH_SIZE must be positive")
    return size
