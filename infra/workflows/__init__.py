"""One module per pipeline: its settings, its ASL definition and its ComponentResource."""

from __future__ import annotations

from infra.workflows import greeting, incidents, radar, uploads

# Pipeline name → module exposing ``build(stack, runtime) -> dict of outputs``.
WORKFLOWS = {
    greeting.PIPELINE: greeting,
    radar.PIPELINE: radar,
    incidents.PIPELINE: incidents,
    uploads.PIPELINE: uploads,
}
# Pipeline name → its settings reader; the program validates every pipeline's section with it,
# enabled or not, before declaring anything.
SETTINGS_READERS = {
    greeting.PIPELINE: greeting.GreetingSettings.from_section,
    radar.PIPELINE: radar.RadarSettings.from_section,
    incidents.PIPELINE: incidents.IncidentsSettings.from_section,
    uploads.PIPELINE: uploads.UploadsSettings.from_section,
}
