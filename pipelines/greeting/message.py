"""Validation of a greeting request (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.common.errors import InvalidInputError

MAX_MESSAGE_LENGTH = 1000


def validate_message(event: Any) -> str:
    """The event's ``message``: a non-empty string of at most 1,000 characters."""
    if not isinstance(event, Mapping):
        raise InvalidInputError("event", f"must be a JSON object, got {type(event).__name__}")
    if "message" not in event:
        raise InvalidInputError("message", "is required")
    message = event["message"]
    if not isinstance(message, str):
        raise InvalidInputError("message", f"must be a string, got {type(message).__name__}")
    if not message.strip():
        raise InvalidInputError("message", "must not be empty")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidInputError("message", f"must be at most {MAX_MESSAGE_LENGTH} characters, got {len(message)}")
    return message


def greeting_for(message: str) -> str:
    """The greeting the pipeline answers a message with."""
    return f"Hello from stepworks: {message}"
