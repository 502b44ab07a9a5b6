"""The daily-analysis intake (ValidateInput): the execution input, verbatim, checked before anything runs.

Its own module so the function loads only the input rules.

validate_request(event)
    event  {} | {"scheduledTime": ISO-8601 with a zone} | {"date": "YYYY-MM-DD"}; nothing else
    return {"date": "YYYY-MM-DD"}: the business date to analyse (request.py)
    errors InvalidInputError naming the field (input, date, scheduledTime, or the unknown key)
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.analysis.request import analysis_request
from pipelines.common.logging import get_logger
from pipelines.common.settings import require_env

logger = get_logger("daily-analysis")


@logger.inject_lambda_context
def validate_request(event, context):
    """Check the execution input (the schedule's, or a manual one) and name the date it analyses."""
    return analysis_request(event, now=datetime.now(UTC), timezone=require_env("TIMEZONE"))
