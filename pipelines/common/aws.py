"""boto3 clients, created once per (service, region) and reused across invocations."""

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
def _cached_client(service: str, region: str | None):
    # boto3's default session is not thread-safe to create clients from; the sandbox runs Map
    # iterations in threads, so creation is serialized.
    with _lock:
        return boto3.session.Session().client(service, region_name=region, config=_CLIENT_CONFIG)


def client(service: str):
    """A boto3 client for ``service`` in the function's region (AWS_REGION)."""
    return _cached_client(service, os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))


def reset_clients() -> None:
    """Forget cached clients (the sandbox calls this when it starts a fresh emulator)."""
    _cached_client.cache_clear()
