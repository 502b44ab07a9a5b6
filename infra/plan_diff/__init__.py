"""What changed between two synth outputs, for a reviewer: resources, IAM statements, ASL states.

Pure: reads two directories written by ``python -m infra synth`` and returns a ``PlanDiff``; no
AWS, no Pulumi, no git (``infra/cli/diff.py`` turns revisions into synth outputs).

- ``snapshot``: a synth output directory read into resources, policy documents and state machines;
- ``values``: the changed property paths between two JSON values (old → new);
- ``policies``: statements normalised and compared, and which changes widen a permission;
- ``machines``: the states of a definition (nested ones too) and which fields of each changed;
- ``compare``: one snapshot against another → ``PlanDiff``;
- ``render``: ``PlanDiff`` → Markdown for a pull-request comment.
"""

from infra.plan_diff.compare import PlanDiff, compare
from infra.plan_diff.render import render_markdown
from infra.plan_diff.snapshot import Snapshot, SnapshotError, load_snapshot

__all__ = ["PlanDiff", "Snapshot", "SnapshotError", "compare", "load_snapshot", "render_markdown"]
