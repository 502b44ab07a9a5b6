"""CombineInsights: the three Bedrock sections, available or marked unavailable with their cause, and token usage.

Malformed input: ``combine`` raises ``ValueError`` for a section listed twice, a section it does
not know (or an entry that is not an object), and a section missing.
"""

from __future__ import annotations

import pytest

from pipelines.analysis.insights import SECTIONS, combine, resolve

NARRATIVE = {"summary": "Nothing unusual.", "highlights": []}
ADVICE = {"recommendations": [{"action": "Restock BAK-001", "reason": "It sold out by noon."}]}


def available(section: str, answer: dict, calls: int = 1, inputs: int = 1000, outputs: int = 100) -> dict:
    """A section as the handler answers it."""
    return {
        "section": section,
        "available": True,
        "answer": answer,
        "usage": {"calls": calls, "inputTokens": inputs, "outputTokens": outputs},
        "prompt": f"{section}.v1",
        "findings": 3,
    }


def unavailable(section: str, error: str | None = "BedrockUnavailableError", cause: str | None = "throttled") -> dict:
    """A section as the state machine's Catch builds it."""
    return {"section": section, "available": False, "error": error, "cause": cause}


def all_available() -> list[dict]:
    return [
        available("anomalies", NARRATIVE, calls=1, inputs=1200, outputs=150),
        available("trends", NARRATIVE, calls=2, inputs=3000, outputs=400),
        available("recommendations", ADVICE, calls=1, inputs=900, outputs=80),
    ]


def test_all_sections_available_leave_nothing_unavailable():
    insights = combine("2026-11-20", "exec-1", all_available(), "model-a")
    assert insights["unavailable"] == []
    assert insights["date"] == "2026-11-20"
    assert insights["execution"] == "exec-1"
    assert insights["model"] == "model-a"
    assert list(insights["sections"]) == list(SECTIONS)
    assert insights["sections"]["trends"] == {"available": True, "answer": NARRATIVE, "prompt": "trends.v1"}
    assert insights["sections"]["recommendations"]["answer"] == ADVICE


def test_usage_is_kept_per_section_and_totalled():
    usage = combine("2026-11-20", "exec-1", all_available(), "model-a")["usage"]
    assert usage["bySection"]["trends"] == {"calls": 2, "inputTokens": 3000, "outputTokens": 400}
    assert usage["total"] == {"calls": 4, "inputTokens": 5100, "outputTokens": 630}


def test_sections_may_arrive_in_any_order():
    sections = list(reversed(all_available()))
    insights = combine("2026-11-20", "exec-1", sections, "model-a")
    assert list(insights["sections"]) == list(SECTIONS)
    assert insights["usage"]["total"]["calls"] == 4


def test_unavailable_section_is_listed_with_its_error_and_cause():
    sections = all_available()
    sections[1] = unavailable("trends", "BedrockRequestError", "Bedrock AccessDeniedException for model-a: m")
    insights = combine("2026-11-20", "exec-1", sections, "model-a")
    assert insights["unavailable"] == [
        {
            "section": "trends",
            "error": "BedrockRequestError",
            "cause": "Bedrock AccessDeniedException for model-a: m",
        }
    ]
    assert insights["sections"]["trends"] == {
        "available": False,
        "error": "BedrockRequestError",
        "cause": "Bedrock AccessDeniedException for model-a: m",
    }
    assert insights["sections"]["anomalies"]["available"] is True


def test_unavailable_section_spends_no_tokens_in_the_usage():
    sections = all_available()
    sections[1] = unavailable("trends")
    usage = combine("2026-11-20", "exec-1", sections, "model-a")["usage"]
    assert usage["bySection"]["trends"] == {"calls": 0, "inputTokens": 0, "outputTokens": 0}
    assert usage["total"] == {"calls": 2, "inputTokens": 2100, "outputTokens": 230}


def test_long_cause_is_cut_to_400_characters():
    # Step Functions' Cause is the Lambda error as JSON: it can carry a whole stack trace.
    cause = '{"errorMessage": "Bedrock ThrottlingException: slow down", "stackTrace": ["' + "x" * 5000 + '"]}'
    sections = all_available()
    sections[0] = unavailable("anomalies", cause=cause)
    reason = combine("2026-11-20", "exec-1", sections, "model-a")["unavailable"][0]
    assert len(reason["cause"]) <= 400
    assert reason["cause"].startswith('{"errorMessage": "Bedrock ThrottlingException')
    assert reason["cause"].endswith("…")


def test_cause_of_exactly_400_characters_is_kept_whole():
    sections = all_available()
    sections[0] = unavailable("anomalies", cause="c" * 400)
    assert combine("2026-11-20", "exec-1", sections, "model-a")["unavailable"][0]["cause"] == "c" * 400


def test_cause_with_a_lone_surrogate_is_escaped_so_it_can_be_stored():
    sections = all_available()
    sections[0] = unavailable("anomalies", cause="bad \ud800 text")
    cause = combine("2026-11-20", "exec-1", sections, "model-a")["unavailable"][0]["cause"]
    assert cause == "bad \\ud800 text"
    cause.encode("utf-8")


def test_unavailable_section_without_error_or_cause_says_so():
    sections = all_available()
    sections[2] = unavailable("recommendations", error=None, cause=None)
    reason = combine("2026-11-20", "exec-1", sections, "model-a")["unavailable"][0]
    assert reason == {"section": "recommendations", "error": "Unknown", "cause": "no cause given"}


def test_every_unavailable_section_is_listed_in_section_order():
    sections = [unavailable("recommendations"), unavailable("anomalies"), unavailable("trends")]
    insights = combine("2026-11-20", "exec-1", sections, "model-a")
    assert [u["section"] for u in insights["unavailable"]] == list(SECTIONS)
    assert insights["usage"]["total"] == {"calls": 0, "inputTokens": 0, "outputTokens": 0}


def test_duplicate_section_is_refused():
    sections = [*all_available(), available("trends", NARRATIVE)]
    with pytest.raises(ValueError, match="'trends'"):
        combine("2026-11-20", "exec-1", sections, "model-a")


@pytest.mark.parametrize("name", ["forecast", "Trends", None])
def test_unknown_section_is_refused(name):
    sections = [*all_available()[:2], {**available("recommendations", ADVICE), "section": name}]
    with pytest.raises(ValueError, match="unexpected section"):
        combine("2026-11-20", "exec-1", sections, "model-a")


def test_entry_that_is_not_an_object_is_refused():
    with pytest.raises(ValueError, match="unexpected section None"):
        combine("2026-11-20", "exec-1", [*all_available(), "trends"], "model-a")


def test_missing_section_is_refused_naming_it():
    with pytest.raises(ValueError, match="sections missing: trends"):
        combine("2026-11-20", "exec-1", [s for s in all_available() if s["section"] != "trends"], "model-a")


def test_no_sections_at_all_are_refused_naming_every_one():
    with pytest.raises(ValueError, match="anomalies, trends, recommendations"):
        combine("2026-11-20", "exec-1", [], "model-a")


# -- resolve: the sections whole, from the flags and pointers the state carries --------------------


def pointer(section: str, date: str = "2026-11-20") -> dict:
    return {"section": section, "available": True, "narrativeKey": f"analysis/date={date}/narratives/{section}.json"}


def test_resolve_loads_each_available_sections_narrative_by_its_pointer_and_keeps_the_unavailable_ones():
    stored = {f"analysis/date=2026-11-20/narratives/{s['section']}.json": s for s in all_available()}
    entries = [pointer("anomalies"), unavailable("trends"), pointer("recommendations")]
    sections = resolve("2026-11-20", entries, stored.get)
    assert sections == [all_available()[0], unavailable("trends"), all_available()[2]]
    insights = combine("2026-11-20", "exec-1", sections, "model-a")
    assert insights["sections"]["recommendations"]["answer"] == ADVICE
    assert [u["section"] for u in insights["unavailable"]] == ["trends"]


@pytest.mark.parametrize(
    "entry",
    [
        pointer("anomalies", date="2026-11-19"),  # another date's narrative
        {**pointer("anomalies"), "narrativeKey": "analysis/date=2026-11-20/narratives/trends.json"},
        {**pointer("anomalies"), "narrativeKey": None},
        {**pointer("forecast")},
    ],
)
def test_resolve_refuses_a_pointer_that_is_not_the_sections_narrative_of_the_date(entry):
    with pytest.raises(ValueError, match="points at"):
        resolve("2026-11-20", [entry], lambda key: all_available()[0])


def test_resolve_refuses_a_missing_narrative_or_another_sections():
    with pytest.raises(ValueError, match="missing or not that section's"):
        resolve("2026-11-20", [pointer("trends")], lambda key: None)
    with pytest.raises(ValueError, match="missing or not that section's"):
        resolve("2026-11-20", [pointer("trends")], lambda key: all_available()[0])
