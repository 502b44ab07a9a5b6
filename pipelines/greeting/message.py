"""Validation of a greeting request (pure)."""

from __future__ import annotations

from typing import Any

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import RequestShape, checked_request, described

MAX_MESSAGE_LENGTH = 1000
# The body is {"message": str}; 1,000 characters are at most 6,002 bytes of JSON (\uXXXX escapes).
REQUEST = RequestShape.of(message=6 * MAX_MESSAGE_LENGTH + 2)


def validate_message(event: Any) -> str:
    """The body's ``message``: a non-empty string of at most 1,000 characters, valid Unicode."""
    body = checked_request(event, REQUEST)
    if "message" not in body:
        raise InvalidInputError("message", "is required")
    message = body["message"]
    if not isinstance(message, str):
        raise InvalidInputError("message", f"must be a string, got {described(message)}")
    if not message.strip():
        raise InvalidInputError("message", "must not be empty")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidInputError("message", f"must be at most {MAX_MESSAGE_LENGTH} characters, got {len(message):,}")
    return message


def greeting_for(message: str) -> str:
    """The greeting the pipeline answers a message with."""
    return f"Hello from stepworks: {message}"
