"""Lambda entry points of the greeting pipeline.

``hello`` (the intake: it gets the POST body verbatim): event ``{"message": str}`` (non-empty,
at most 1,000 characters, valid Unicode, no other key) → ``{"message": str, "greeting": str}``.
Anything else — null, an array, an unknown key — raises ``InvalidInputError`` naming the field,
which the state machine does not retry.
"""

from __future__ import annotations

from pipelines.common.logging import get_logger
from pipelines.greeting.message import greeting_for, validate_message

logger = get_logger("greeting")


@logger.inject_lambda_context
def hello(event, context):
    """Validate the message and return it with its greeting."""
    message = validate_message(event)
    logger.info("greeting", extra={"message_length": len(message)})
    return {"message": message, "greeting": greeting_for(message)}
