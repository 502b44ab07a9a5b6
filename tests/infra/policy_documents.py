"""IAM policy documents as JSON text, for tests that declare roles by hand (sandbox IAM, EventBridge)."""

from __future__ import annotations

import json


def trust(service: str, **conditions) -> str:
    """A trust policy letting ``service`` assume the role, with ``conditions`` if any."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if conditions:
        statement["Condition"] = conditions
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def allow(action: str, resource: str) -> str:
    """An identity policy allowing ``action`` on ``resource``."""
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )
