"""The release request document (``inputs/<name>.json``), parsed and checked (pure).

``parse_release_request(raw, environments)`` turns the object's bytes into a ``ReleaseRequest``
or raises ``InvalidReleaseRequestError`` naming the field::

    {"storyId": "PROJ-123", "packages": ["api@1.4.2", …], "environment": "staging",
     "requester": "alice@example.com", "description"?: "…"}

The rules are those of ``release-request.schema.json`` (shipped beside this module; a test holds
the two to the same answers), plus what JSON Schema cannot say: at most 64 KiB (checked before
parsing), UTF-8 text, no duplicate key, no NaN/Infinity, no lone surrogate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.approvals.errors import InvalidReleaseRequestError
from pipelines.common.inputs import described, field_name, has_lone_surrogate, nearest, quote

SCHEMA_PATH = Path(__file__).with_name("release-request.schema.json")
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_PACKAGES = 50
MAX_REQUESTER_CHARS = 128
MAX_DESCRIPTION_CHARS = 2000
DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")
DOCUMENT = "document"

STORY_ID = re.compile(r"[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,9}")
PACKAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
_FIELDS = ("storyId", "packages", "environment", "requester", "description")
_REQUIRED = ("storyId", "packages", "environment", "requester")


@dataclass(frozen=True)
class ReleaseRequest:
    """One checked release request."""

    story_id: str
    packages: tuple[str, ...]
    environment: str
    requester: str
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The request as the state machine carries it (the document's own field names)."""
        body: dict[str, Any] = {
            "storyId": self.story_id,
            "packages": list(self.packages),
            "environment": self.environment,
            "requester": self.requester,
        }
        if self.description is not None:
            body["description"] = self.description
        return body


def schema(environments: tuple[str, ...] | None = None) -> dict:
    """The document's JSON Schema (draft 2020-12); ``environments`` replaces the default list."""
    document = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    if environments is not None:
        document["properties"]["environment"]["enum"] = list(environments)
    return document


def parse_environments(raw: str) -> tuple[str, ...]:
    """The ENVIRONMENTS setting (``dev,staging,prod``) as names; ValueError naming a bad one."""
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not names:
        raise ValueError("lists no environment")
    for name in names:
        if not ENVIRONMENT_NAME.fullmatch(name):
            raise ValueError(f"has {name!r}, not a lower-case name of at most 32 letters, digits and dashes")
    return names


def _error(field: str, problem: str) -> InvalidReleaseRequestError:
    return InvalidReleaseRequestError(field, problem)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(key)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_document(raw: bytes) -> Any:
    """``raw`` parsed as strict JSON (UTF-8, unique keys, no NaN); InvalidReleaseRequestError otherwise."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise _error(DOCUMENT, f"is {len(raw):,} bytes; at most {MAX_DOCUMENT_BYTES:,} allowed")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error(DOCUMENT, f"is not UTF-8 text (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark some editors write; not part of the JSON
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except _DuplicateKey as exc:
        raise _error(field_name(exc.key), "appears more than once in the document") from None
    except json.JSONDecodeError as exc:
        raise _error(DOCUMENT, f"is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise _error(DOCUMENT, "is nested too deeply to be a release request") from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long to convert
        raise _error(DOCUMENT, f"is not strict JSON: {quote(str(exc), 80)}") from None


def _string(body: dict[str, Any], name: str) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise _error(name, f"must be a string, got {described(value)}")
    if has_lone_surrogate(value):
        raise _error(name, "contains a lone surrogate (e.g. \\ud800): text must be valid Unicode")
    return value


def _packages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _error("packages", f"must be an array of package ids, got {described(value)}")
    if not 1 <= len(value) <= MAX_PACKAGES:
        raise _error("packages", f"must hold 1 to {MAX_PACKAGES} package ids, got {len(value):,}")
    first_at: dict[str, int] = {}
    for index, package in enumerate(value):
        path = f"packages[{index}]"
        if not isinstance(package, str):
            raise _error(path, f"must be a string, got {described(package)}")
        if not PACKAGE_ID.fullmatch(package):
            rule = "a letter or digit, then up to 127 of A-Z a-z 0-9 . _ : / @ + -"
            raise _error(path, f"must be {rule}, not {quote(package)}")
        if package in first_at:
            raise _error(path, f"repeats packages[{first_at[package]}] ({quote(package)}): list each package once")
        first_at[package] = index
    return tuple(value)


def check_release_request(body: Any, environments: tuple[str, ...] | None = DEFAULT_ENVIRONMENTS) -> ReleaseRequest:
    """A parsed document as a ``ReleaseRequest``; InvalidReleaseRequestError naming the first bad field.

    ``environments`` None accepts any well-formed environment name (a later step re-checking a
    request the first step already held to the configured list).
    """
    if not isinstance(body, dict):
        raise _error(DOCUMENT, f"must be a JSON object, got {described(body)}")
    for name in body:
        if name not in _FIELDS:
            guess = nearest(name, _FIELDS)
            hint = f"did you mean {guess}? " if guess else ""
            raise _error(field_name(name), f"is not a known field; {hint}allowed: {', '.join(_FIELDS)}")
    for name in _REQUIRED:
        if name not in body:
            raise _error(name, "is required")
    story = _string(body, "storyId")
    if not STORY_ID.fullmatch(story):
        raise _error("storyId", f"must be a Jira issue key like PROJ-123, not {quote(story)}")
    packages = _packages(body["packages"])
    environment = _string(body, "environment")
    if environments is None:
        if not ENVIRONMENT_NAME.fullmatch(environment):
            raise _error("environment", f"must be an environment name like staging, not {quote(environment)}")
    elif environment not in environments:
        raise _error("environment", f"must be one of {', '.join(environments)}, not {quote(environment)}")
    requester = _string(body, "requester")
    if not requester.strip():
        raise _error("requester", "must not be blank: an e-mail address or a user id")
    if len(requester) > MAX_REQUESTER_CHARS:
        raise _error("requester", f"is {len(requester):,} characters; at most {MAX_REQUESTER_CHARS} allowed")
    description = None
    if "description" in body:
        description = _string(body, "description")
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise _error(
                "description", f"is {len(description):,} characters; at most {MAX_DESCRIPTION_CHARS:,} allowed"
            )
    return ReleaseRequest(story, packages, environment, requester, description)


def parse_release_request(raw: bytes, environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS) -> ReleaseRequest:
    """The document's bytes as a ``ReleaseRequest``; InvalidReleaseRequestError naming the field."""
    return check_release_request(load_document(raw), environments)
