"""The JSON the model is asked for, per section, as JSON Schemas its answers are checked against.

Statistics decide and the model only explains, so an answer carries prose only: nothing in it
feeds back into the findings, the export or the alerting.
"""

from __future__ import annotations

NARRATIVE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary", "highlights"],
    "properties": {
        "summary": {"type": "string", "minLength": 1, "maxLength": 1500},
        "highlights": {"type": "array", "maxItems": 8, "items": {"type": "string", "minLength": 1, "maxLength": 400}},
    },
}

RECOMMENDATIONS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["recommendations"],
    "properties": {
        "recommendations": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["action", "reason"],
                "properties": {
                    "action": {"type": "string", "minLength": 1, "maxLength": 300},
                    "reason": {"type": "string", "minLength": 1, "maxLength": 600},
                },
            },
        }
    },
}


def longest(schema: dict, char: str = "語") -> object:
    """The largest answer ``schema`` admits: every property, every array at ``maxItems``, every string
    at ``maxLength`` of ``char`` (a 3-byte character by default: what sizes the state and the e-mail)."""
    kind = schema["type"]
    if kind == "object":
        return {name: longest(sub, char) for name, sub in schema["properties"].items()}
    if kind == "array":
        return [longest(schema["items"], char) for _ in range(schema["maxItems"])]
    if kind == "string":
        return char * schema["maxLength"]
    raise ValueError(f"no longest value of a {kind} schema")
