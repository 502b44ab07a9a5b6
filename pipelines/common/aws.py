"""boto3 clients, created once per (service, region, credentials) and reused across invocations."""

from __future__ import annotations

import functools
import os
import threading

import boto3
from botocore.config import Config

_lock = threading.Lock()
# One session lends its loaders (service models, endpoint rules: megabytes of JSON) to every
# client; a session per client read them again each time, most of the sandbox's time.
_session: boto3.session.Session | None = None

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
    # Sessions are not thread-safe to create clients from; the sandbox runs Map iterations in
    # threads, so creation is serialized. The client gets the environment's credentials (the
    # cache key) explicitly: the shared session never caches one role's for another.
    global _session
    with _lock:
        if _session is None:
            _session = boto3.session.Session()
        explicit = (
            {
                "aws_access_key_id": access_key_id,
                "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
                "aws_session_token": session_token,
            }
            if access_key_id
            else {}
        )
        return _session.client(service, region_name=region, config=config, endpoint_url=endpoint_url, **explicit)


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
    """Forget cached clients and their session (the sandbox calls this when it starts a fresh emulator)."""
    global _session
    _cached_client.cache_clear()
    with _lock:
        _session = None
