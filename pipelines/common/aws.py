"""boto3 clients, created once per (service, region, credentials) and reused across invocations."""

from __future__ import annotations

import functools
import os
import threading

import boto3
from botocore.config import Config

_lock = threading.Lock()

# Step Functions owns retries of whole tasks; the SDK retries only brief throttles itself.
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)


@functools.cache
def _cached_client(
    service: str,
    region: str | None,
    access_key_id: str | None,
    session_token: str | None,
    endpoint_url: str | None,
    config: Config,
):
    # boto3's default session is not thread-safe to create clients from; the sandbox runs Map
    # iterations in threads, so creation is serialized. The new session resolves the credentials
    # the cache is keyed by (the environment's, in Lambda).
    with _lock:
        return boto3.session.Session().client(service, region_name=region, config=config, endpoint_url=endpoint_url)


def client(service: str, *, endpoint_url: str | None = None, config: Config = _CLIENT_CONFIG):
    """A boto3 client for ``service`` in the function's region (AWS_REGION), with its credentials.

    Keyed by the credentials in effect (Lambda puts the execution role's in AWS_ACCESS_KEY_ID and
    AWS_SESSION_TOKEN), so a client is never handed to code running with other credentials: in
    Lambda there is one role per container and nothing changes; in the sandbox, where every
    function runs in one process, each function gets clients signing as its own role.
    ``endpoint_url`` (a VPC endpoint, or the sandbox's fake of a service) and ``config`` (a
    module-level constant: it is part of the cache key) are for services with their own needs.
    """
    return _cached_client(
        service,
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
        os.environ.get("AWS_SESSION_TOKEN"),
        endpoint_url,
        config,
    )


def reset_clients() -> None:
    """Forget cached clients (the sandbox calls this when it starts a fresh emulator)."""
    _cached_client.cache_clear()
