"""HTTP API (payload format 2.0) plumbing shared by the callback and the reference services (pure).

``json_object_body`` turns the event's body into a JSON object or an ``InvalidInputError`` naming
the field (``body`` for the body as a whole); ``presented_secret`` and ``matches`` read and check a
bearer secret in constant time; ``response`` builds the proxy answer.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from typing import Any

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import described, field_name, quote

BODY = "body"


def response(status: int, body: Mapping[str, Any], retry_after: int | None = None) -> dict[str, Any]:
    """An HTTP API proxy answer with a JSON body."""
    headers = {"content-type": "application/json"}
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return {"statusCode": status, "headers": headers, "body": json.dumps(body, ensure_ascii=False)}


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header (payload 2.0 lower-cases the names); None if absent or not text."""
    headers = event.get("headers")
    value = headers.get(name.lower()) if isinstance(headers, Mapping) else None
    return value if isinstance(value, str) else None


def presented_secret(event: Mapping[str, Any]) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` header, or None."""
    value = header(event, "authorization")
    if value is None:
        return None
    scheme, _, secret = value.strip().partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def matches(presented: str | None, secrets: list[str]) -> bool:
    """Whether ``presented`` equals one of ``secrets``, each compared in constant time (all of them, always)."""
    if presented is None:
        return False
    given = _utf8(presented)
    results = [hmac.compare_digest(given, _utf8(secret)) for secret in secrets]
    return any(results)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInputError(field_name(key), "appears more than once in the body")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise InvalidInputError(BODY, f"{name} is not a JSON value")


def json_object_body(event: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """The body (base64-decoded if flagged) as a JSON object of at most ``max_bytes`` UTF-8 bytes."""
    raw = event.get("body")
    if raw is None or raw == "":
        raise InvalidInputError(BODY, "is required: a JSON object")
    if not isinstance(raw, str):
        raise InvalidInputError(BODY, f"must be text, got {described(raw)}")
    if len(raw) > 2 * max_bytes:  # bounds the work below; the exact limit is checked on the bytes
        raise InvalidInputError(BODY, f"is more than {max_bytes:,} bytes")
    if event.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError(BODY, "is flagged base64 but is not valid base64") from None
    else:
        data = raw.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise InvalidInputError(BODY, f"is {len(data):,} bytes; at most {max_bytes:,} allowed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(BODY, f"is not UTF-8 text (byte {exc.start})") from None
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(BODY, f"is not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise InvalidInputError(BODY, "is nested too deeply") from None
    except ValueError as exc:  # an integer too long to convert
        raise InvalidInputError(BODY, f"is not strict JSON: {quote(str(exc), 80)}") from None
    if not isinstance(document, dict):
        raise InvalidInputError(BODY, f"must be a JSON object, got {described(document)}")
    return document
