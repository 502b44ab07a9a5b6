"""JSON as UTF-8 bytes that survive any Python string, lone surrogates included.

``json.dumps(..., ensure_ascii=False).encode("utf-8")`` raises ``UnicodeEncodeError`` on a lone
surrogate (``"\\ud800"``), which a third-party API can send inside valid JSON. Escaping just those
code points as ``\\uXXXX`` keeps the document valid, readable and lossless: ``json.loads`` gives
back exactly the string that came in.
"""

from __future__ import annotations

import json
import re
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8_json(document: Any, indent: int | None = None) -> bytes:
    """``document`` as UTF-8 JSON text, lone surrogates escaped."""
    text = json.dumps(document, ensure_ascii=False, indent=indent)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")
