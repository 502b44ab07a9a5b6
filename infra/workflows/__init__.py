"""One module per pipeline: its settings, its ASL definition and its ComponentResource."""

from __future__ import annotations

from infra.workflows import daily_analysis, greeting, incidents, radar, release_approval, uploads
from infra.workflows.dependencies import REQUIRES

__all__ = ["REQUIRES", "SETTINGS_READERS", "WORKFLOWS"]

# Pipeline name → module exposing ``build(stack_config, stack, built) -> its component`` (``outputs``:
# the stack outputs; ``built``: the components built before it, in this order, for a pipeline
# that reads another's resources).
WORKFLOWS = {
    greeting.PIPELINE: greeting,
    radar.PIPELINE: radar,
    incidents.PIPELINE: incidents,
    uploads.PIPELINE: uploads,
    daily_analysis.PIPELINE: daily_analysis,
    release_approval.PIPELINE: release_approval,
}
# Pipeline name → its settings reader; the program validates every pipeline's section with it,
# enabled or not, before declaring anything.
SETTINGS_READERS = {
    greeting.PIPELINE: greeting.GreetingSettings.from_section,
    radar.PIPELINE: radar.RadarSettings.from_section,
    incidents.PIPELINE: incidents.IncidentsSettings.from_section,
    uploads.PIPELINE: uploads.UploadsSettings.from_section,
    daily_analysis.PIPELINE: daily_analysis.DailyAnalysisSettings.from_section,
    release_approval.PIPELINE: release_approval.ReleaseApprovalSettings.from_section,
}
