"""The checks every execution input gets before a pipeline reads a field of it (pure).

Each workflow starts with an intake task that hands its function the execution input verbatim
(``infra.integrations.validate_input``). That function calls ``checked_request`` first, so any
body — an array, a string, ``null``, a misspelt or unknown key, a value too large to travel
through the state machine, a lone surrogate, nesting hundreds of levels deep — ends in one
``InvalidInputError`` naming the field, before the pipeline's own rules look at the values.
Error messages quote at most a short prefix of what was sent (``quote``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.common.errors import InvalidInputError

# What a message may show of a bad value: enough to recognise it, never the whole of it.
QUOTE_CHARS = 40
# Deeper than this is not a request anyone meant to send (and recursion must stay bounded).
MAX_DEPTH = 20
# Step Functions refuses a state payload over 256 KiB; a field of a validated request is far smaller.
DEFAULT_FIELD_BYTES = 1024
INPUT_FIELD = "input"


def json_type(value: Any) -> str:
    """The JSON name of a value's type, as a user who sent it would call it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def described(value: Any) -> str:
    """``value``'s JSON type and a short quote of it: ``array [1, 2]``, ``string "hi"``, ``null``."""
    kind = json_type(value)
    return kind if value is None else f"{kind} {quote(value)}"


def _escape_surrogates(text: str) -> str:
    # A lone surrogate cannot be encoded as UTF-8: a message carrying one would fail to log or serialise.
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if not text.isascii() else text


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """A short, printable rendering of ``value`` for an error message: a prefix and its full size."""
    if isinstance(value, str):
        text, size = value, f"{len(value):,} characters"
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
        size = f"{len(text):,} characters of JSON"
    shown = json.dumps(text[:limit], ensure_ascii=False) if isinstance(value, str) else text[:limit]
    rendered = _escape_surrogates(shown)
    return rendered if len(text) <= limit else f"{rendered}… ({size})"


def field_name(name: Any) -> str:
    """A key as an error may name it: short and printable."""
    text = name if isinstance(name, str) else str(name)
    return _escape_surrogates(text if len(text) <= QUOTE_CHARS else f"{text[:QUOTE_CHARS]}…")


def _encoded_size(value: Any) -> int:
    # The size Step Functions counts: UTF-8 bytes of the JSON text.
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a surrogate code point alone (JSON's ``\\ud800``): not encodable as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_value(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInputError(path, f"is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if has_lone_surrogate(value):
            raise InvalidInputError(path, "contains a lone surrogate (e.g. \\ud800): text must be valid Unicode")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and has_lone_surrogate(key):
                raise InvalidInputError(path, f"has a key with a lone surrogate: {quote(key)}")
            _check_value(item, f"{path}.{field_name(key)}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]", depth + 1)


def nearest(name: str, known: tuple[str, ...]) -> str | None:
    """The known name closest to ``name`` (a likely typo), if any is close."""
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not matches:
        lowered = {k.lower(): k for k in known}
        return lowered.get(name.lower())
    return matches[0]


@dataclass(frozen=True)
class RequestShape:
    """The fields a pipeline's execution input may have, each with its largest JSON size in bytes."""

    fields: Mapping[str, int]

    @classmethod
    def of(cls, *names: str, max_bytes: int = DEFAULT_FIELD_BYTES, **sized: int) -> RequestShape:
        """Fields ``names`` of at most ``max_bytes`` each, and ``sized`` ones with their own limit."""
        return cls({**dict.fromkeys(names, max_bytes), **sized})

    def describe(self) -> str:
        return ", ".join(self.fields) if self.fields else "no fields (send {})"


def checked_request(event: Any, shape: RequestShape) -> dict[str, Any]:
    """``event`` if it is a JSON object of known, bounded, well-formed fields; InvalidInputError otherwise.

    In this order: an object; no unknown key (the closest known one suggested); then per field,
    no lone surrogate or excessive nesting, and no more than its size. The pipeline then checks values.
    """
    if not isinstance(event, Mapping):
        raise InvalidInputError(INPUT_FIELD, f"must be a JSON object, got {described(event)}")
    known = tuple(shape.fields)
    for name in event:
        if name not in shape.fields:
            guess = nearest(name, known) if isinstance(name, str) else None
            hint = f"did you mean {guess}? " if guess else ""
            raise InvalidInputError(field_name(name), f"is not a known field; {hint}allowed: {shape.describe()}")
    for name, value in event.items():
        _check_value(value, name, 1)  # first: bounds the depth the size check recurses to
        size, limit = _encoded_size(value), shape.fields[name]
        if size > limit:
            raise InvalidInputError(name, f"is {size:,} bytes of JSON; at most {limit:,} allowed")
    return dict(event)


def optional_string(body: Mapping[str, Any], name: str) -> str | None:
    """``body[name]`` if it is a non-blank string, None if absent; ``null`` and other types are errors."""
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, str):
        raise InvalidInputError(name, f"must be a string, got {described(value)} (leave it out for the default)")
    if not value.strip():
        raise InvalidInputError(name, "must not be blank (leave it out for the default)")
    return value
