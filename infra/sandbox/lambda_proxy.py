"""API Gateway HTTP API → Lambda proxy integrations (payload format 2.0), as API Gateway makes them.

The request becomes the documented 2.0 event; the function's answer becomes the response (a
``{"statusCode", "headers", "body", "isBase64Encoded"}`` object, or any other JSON value as a
200 JSON body). API Gateway may invoke the function only where the function's resource policy
lets ``apigateway.amazonaws.com`` do so for the route's execute-api ARN (``aws.lambda_.Permission``);
without that, AWS answers 500 and says why only in the access log, and so does the sandbox.
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import json
import uuid
from typing import Any

from botocore.exceptions import ClientError

_TEXT_TYPES = ("application/json", "application/x-www-form-urlencoded", "application/xml", "text/")


def function_of(integration_uri: str) -> str:
    """The function ARN of an integration URI (the ARN itself, or its ``…/functions/<arn>/invocations`` form)."""
    if "/functions/" in integration_uri:
        return integration_uri.split("/functions/", 1)[1].removesuffix("/invocations")
    return integration_uri


def permission_problem(lambda_client, function_arn: str, source_arn: str) -> str | None:
    """Why API Gateway may not invoke ``function_arn`` for ``source_arn`` (None if it may)."""
    try:
        policy = json.loads(lambda_client.get_policy(FunctionName=function_arn)["Policy"])
    except ClientError:
        return f"{function_arn} has no resource policy: API Gateway may not invoke it"
    for statement in policy.get("Statement", []):
        principal = statement.get("Principal", {})
        service = principal.get("Service") if isinstance(principal, dict) else principal
        if statement.get("Effect") != "Allow" or service != "apigateway.amazonaws.com":
            continue
        if statement.get("Action") not in ("lambda:InvokeFunction", "lambda:*"):
            continue
        condition = statement.get("Condition", {}).get("ArnLike", {})
        pattern = condition.get("AWS:SourceArn") or condition.get("aws:SourceArn")
        if pattern is None or fnmatch.fnmatchcase(source_arn, pattern):
            return None
    return f"no statement of {function_arn}'s resource policy lets apigateway.amazonaws.com invoke it for {source_arn}"


def _is_text(headers: dict[str, str]) -> bool:
    content_type = headers.get("content-type", "").lower()
    return not content_type or content_type.startswith(_TEXT_TYPES)


def event_v2(api_id: str, route_key: str, raw_path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The payload format 2.0 event of one request."""
    path, _, query = raw_path.partition("?")
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    now = datetime.datetime.now(datetime.UTC)
    method = route_key.split(" ", 1)[0]
    try:
        text = body.decode("utf-8") if _is_text(lowered) else None
    except UnicodeDecodeError:
        text = None
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "apiId": api_id,
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": text is None,
    }
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode()
    return event


def response_v2(payload: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a function's answer, as API Gateway reads payload format 2.0."""
    try:
        answer = json.loads(payload or b"null")
    except json.JSONDecodeError:
        return 500, {"Content-Type": "application/json"}, json.dumps({"message": "Internal Server Error"}).encode()
    if not (isinstance(answer, dict) and "statusCode" in answer):
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
    headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    body = answer.get("body")
    if body is None:
        raw = b""
    elif answer.get("isBase64Encoded"):
        raw = base64.b64decode(body)
    else:
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    return int(answer["statusCode"]), headers, raw
