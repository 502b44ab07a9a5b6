"""The incidents intake (ValidateRequest): the POST /invoke body, verbatim, checked and resolved.

Its own module so the function loads only the request rules: no database driver, no HTTP client
(its layer holds Powertools alone, and it starts cold faster than the steps that need them).

validate_request(event)
    event: {"since"?: ISO-8601, "until"?: ISO-8601, "statuses"?: [str], "service_ids"?: [str]}
      Defaults: until = now, since = until - 24 h, all statuses, all services; ``null`` for a
      field, an unknown field, or anything but an object is an error.
    returns: the resolved request {"since": "…Z", "until": "…Z", "statuses": [str], "service_ids": [str]}
    raises: InvalidInputError naming the field (input, since, until, statuses, service_ids, or
            the unknown key). Touches nothing: a rejected request leaves no row.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.common.logging import get_logger
from pipelines.incidents.request import parse_run_request

logger = get_logger("incidents")


@logger.inject_lambda_context(clear_state=True)
def validate_request(event, context):
    """Check the body and resolve its window, before anything is recorded or fetched."""
    return parse_run_request(event, now=datetime.now(UTC)).to_event()
