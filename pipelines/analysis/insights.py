"""CombineInsights (pure): the Bedrock sections, each available or marked unavailable with its cause,
and the run's token usage per section and in total.

The state carries each section as a flag: available with a pointer to the narrative its step
stored, or unavailable with the error Step Functions caught. ``resolve`` reads the narratives the
pointers name (through a ``load`` adapter) so ``combine`` sees every section whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipelines.analysis import layout
from pipelines.common.errors import bounded_message

SECTIONS = ("anomalies", "trends", "recommendations")
_USAGE_FIELDS = ("calls", "inputTokens", "outputTokens")


def _unavailable(section: Mapping[str, Any]) -> dict[str, Any]:
    """Why a section is missing: the error Step Functions caught, its cause cut short."""
    return {
        "section": section["section"],
        "error": str(section.get("error") or "Unknown"),
        "cause": bounded_message(str(section.get("cause") or "no cause given"), 400),
    }


def resolve(date: str, entries: Sequence[Any], load: Callable[[str], Mapping[str, Any] | None]) -> list[Any]:
    """The sections whole: an available entry's narrative loaded from its pointer (which must be the key of
    that section and date, ``layout.narrative_key``); an unavailable one as it is. ValueError if a pointer
    is wrong or its narrative missing."""
    sections = []
    for entry in entries:
        if not (isinstance(entry, Mapping) and entry.get("available")):
            sections.append(entry)
            continue
        name, pointer = entry.get("section"), entry.get("narrativeKey")
        if name not in SECTIONS or pointer != layout.narrative_key(date, name):
            raise ValueError(f"section {name!r} points at {pointer!r}, not at its narrative of {date}")
        narrative = load(pointer)
        if not isinstance(narrative, Mapping) or narrative.get("section") != name:
            raise ValueError(f"the narrative of {name} for {date} ({pointer}) is missing or not that section's")
        sections.append(narrative)
    return sections


def combine(date: str, execution: str, sections: Sequence[Mapping[str, Any]], model: str) -> dict[str, Any]:
    """The insights document: every section by name, which are unavailable and why, and token usage."""
    by_name: dict[str, Mapping[str, Any]] = {}
    for section in sections:
        name = section.get("section") if isinstance(section, Mapping) else None
        if name not in SECTIONS or name in by_name:
            raise ValueError(f"unexpected section {name!r}: expected each of {', '.join(SECTIONS)} once")
        by_name[name] = section
    missing = [name for name in SECTIONS if name not in by_name]
    if missing:
        raise ValueError(f"sections missing: {', '.join(missing)}")
    usage = {name: dict.fromkeys(_USAGE_FIELDS, 0) for name in SECTIONS}
    result: dict[str, Any] = {}
    unavailable = []
    for name in SECTIONS:
        section = by_name[name]
        if section.get("available"):
            result[name] = {"available": True, "answer": section.get("answer"), "prompt": section.get("prompt")}
            for field in _USAGE_FIELDS:
                usage[name][field] = int(section.get("usage", {}).get(field, 0))
        else:
            reason = _unavailable(section)
            result[name] = {"available": False, "error": reason["error"], "cause": reason["cause"]}
            unavailable.append(reason)
    total = {field: sum(usage[name][field] for name in SECTIONS) for field in _USAGE_FIELDS}
    return {
        "date": date,
        "execution": execution,
        "model": model,
        "sections": result,
        "unavailable": unavailable,
        # Calls that failed before Bedrock answered spent no tokens; a retried call's usage is the last try's.
        "usage": {"bySection": usage, "total": total},
    }
