"""Workflow diagrams: generated from the rendered definitions, and the committed ones are current."""

from pathlib import Path

from infra.cli import docs_pages
from infra.diagrams import mermaid
from infra.workflows import radar

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_committed_diagrams_match_the_definitions_the_program_renders(dev_program):
    for name, text in docs_pages(dev_program).items():
        committed = DOCS / name
        assert committed.exists(), f"docs/{name} is missing: run `make docs`"
        assert committed.read_text() == text, f"docs/{name} is out of date: run `make docs`"


def test_a_diagram_shows_functions_retries_choices_catches_and_map_bodies():
    definition = radar.definition(
        {key: f"arn:aws:lambda:us-west-2:1:function:sw-dev-radar-{key}" for key in radar_functions()}
        | {"maxConcurrency": "4", "taskTimeout": "150"}
    )
    chart = mermaid(definition.document)
    assert chart.startswith("flowchart TD\n    start((start)) --> ValidateInput\n")
    assert 'ValidateInput -.->|"States.ALL"| InputRejected' in chart
    assert 'ProviderEndpoint["ProviderEndpoint<br/>λ sw-dev-radar-provider<br/>retry ×3"]' in chart
    assert 'ResolveTimestamp -->|"$.scheduledTime present"| UseScheduledTime' in chart
    assert "ResolveTimestamp -->|default| UseStartTime" in chart
    assert 'ProviderEndpoint -.->|"States.ALL"| Failed' in chart
    assert 'FetchEachOrg[["FetchEachOrg (Map, 4 at once)"]]' in chart
    assert 'FetchEachOrg ==>|"each item"| FetchEachOrg_0_CloudflareFetchHandler' in chart
    assert (
        'FetchEachOrg_0_FoundInRadar -->|"$.fetched.value.status == not_found"| FetchEachOrg_0_RecordNotFound' in chart
    )


def radar_functions():
    return ("validate", "provider", "decrypt", "extract", "fetch", "prepare", "summarize")
