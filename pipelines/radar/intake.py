"""The radar intake (ValidateInput): the execution input, verbatim, checked before anything runs.

Its own module so the function loads only the input rules (no HTTP client, no KMS envelope code).

validate_input(event)
    event  {} or {"scheduledTime": ISO-8601 with a zone, at most a day ahead}; nothing else
    return {} or {"scheduledTime": "YYYY-MM-DDTHH:MM:SSZ"}
    errors InvalidInputError naming the field (input, scheduledTime, or the unknown key)
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.common.logging import get_logger
from pipelines.radar.request import run_request

logger = get_logger("radar")


@logger.inject_lambda_context
def validate_input(event, context):
    """Check the execution input (from the schedule, or a manual start) before anything runs."""
    return run_request(event, now=datetime.now(UTC))
