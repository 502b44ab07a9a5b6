"""Function settings from environment variables, read at call time.

Read at call time rather than import time because the sandbox runs many functions in one
process, each invocation with its own environment.
"""

from __future__ import annotations

import os

from pipelines.common.errors import ConfigurationError


def require_env(name: str) -> str:
    """The value of environment variable ``name``; a ConfigurationError naming it if unset."""
    value = os.environ.get(name, "")
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set for this function")
    return value


def optional_env(name: str, default: str = "") -> str:
    """The value of environment variable ``name``, or ``default``."""
    return os.environ.get(name) or default


def int_env(name: str, default: int) -> int:
    """An integer setting; a ConfigurationError naming it if it is not an integer."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be an integer, got {raw!r}") from None
