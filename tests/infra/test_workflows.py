"""The GitHub workflows: actionlint finds nothing, every action is pinned, and each job gets only
what it needs (history for the diff, an OIDC token where it deploys or previews, prod behind its
environment)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.components.packaging import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
LOCAL_ACTIONS = PROJECT_ROOT / ".github" / "actions"
# A commit SHA with its version in a comment, or a full version tag.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(?:[0-9a-f]{40}\s+#\s*v\d+\.\d+\.\d+|v\d+\.\d+\.\d+)$")


def actionlint() -> str | None:
    """The actionlint requirements-dev.txt installs beside this interpreter, or one on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.is_file() else shutil.which("actionlint")


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads a bare `on` as true
    return workflow


def steps_using(job: dict, action: str) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(f"{action}@")]


def test_actionlint_finds_nothing_in_the_workflows():
    binary = actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (requirements-dev.txt installs it)")
    done = subprocess.run([binary], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_action_is_pinned_by_sha_or_full_version():
    lines = []
    for path in [*WORKFLOWS.glob("*.yml"), *LOCAL_ACTIONS.glob("*/action.yml")]:
        for line in path.read_text().splitlines():
            found = re.match(r"^\s*(?:-\s+)?uses:\s*(.+?)\s*$", line)
            if found and not found[1].startswith("./"):
                lines.append((path.name, found[1]))
    assert lines, "no actions found"
    assert [(name, uses) for name, uses in lines if not PINNED.match(uses)] == []


def test_pull_requests_run_the_tests_then_comment_the_offline_diff_with_the_history_checked_out():
    workflow = load("pull-request.yml")
    assert list(workflow["on"]) == ["pull_request"]
    jobs = workflow["jobs"]
    test_steps = [step.get("run") for step in jobs["test"]["steps"]]
    assert "make test" in test_steps and "make lint" in test_steps
    diff = jobs["infra-diff"]
    assert diff["needs"] == "test" and diff["permissions"]["pull-requests"] == "write"
    assert "id-token" not in diff["permissions"]  # no credentials of any kind
    (checkout,) = steps_using(diff, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0
    (run,) = [step["run"] for step in diff["steps"] if "infra diff" in step.get("run", "")]
    assert '"$BASE_SHA" "$GITHUB_SHA"' in run and "--out infra-diff.md" in run
    (comment,) = steps_using(diff, "actions/github-script")
    assert "updateComment" in comment["with"]["script"] and "createComment" in comment["with"]["script"]


def test_preview_runs_only_with_an_aws_role_and_comments_on_the_pull_request():
    preview = load("pull-request.yml")["jobs"]["preview"]
    assert "vars.AWS_ROLE_ARN != ''" in preview["if"]
    assert preview["permissions"]["id-token"] == "write"
    (credentials,) = steps_using(preview, "aws-actions/configure-aws-credentials")
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    (pulumi,) = steps_using(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["comment-on-pr"] is True


def test_main_deploys_dev_through_oidc_then_prod_behind_its_environment():
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    jobs = workflow["jobs"]
    assert jobs["dev"]["needs"] == "test" and jobs["prod"]["needs"] == "dev"
    for name in ("dev", "prod"):
        job = jobs[name]
        assert job["environment"] == name and job["permissions"]["id-token"] == "write"
        (pulumi,) = steps_using(job, "pulumi/actions")
        assert pulumi["with"]["command"] == "up" and f"/{name}'" in pulumi["with"]["stack-name"]
        assert steps_using(job, "aws-actions/configure-aws-credentials")
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_the_pulumi_cli_matches_the_sdk_the_program_pins():
    sdk = re.search(r"^pulumi==(\S+)$", (PROJECT_ROOT / "requirements.txt").read_text(), re.M)[1]
    for name in ("pull-request.yml", "deploy.yml"):
        for job in load(name)["jobs"].values():
            for step in steps_using(job, "pulumi/actions"):
                assert step["with"]["pulumi-version"] == sdk, (name, step)
