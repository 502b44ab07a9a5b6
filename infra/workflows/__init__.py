"""One module per pipeline: its settings, its ASL definition and its ComponentResource."""

from __future__ import annotations

from infra.workflows import greeting, incidents, radar

# Pipeline name → module exposing ``build(stack, runtime) -> dict of outputs``.
WORKFLOWS = {
    greeting.PIPELINE: greeting,
    radar.PIPELINE: radar,
    incidents.PIPELINE: incidents,
}
