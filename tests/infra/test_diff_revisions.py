"""``infra diff`` on real changes of this repository: the entries a reviewer would look for.

- 2356b1a put an intake task first in every workflow: new functions and roles, the state machine
  roles may invoke them (widened), new states, a new StartAt, a Pass state gone, Parameters changed;
- 31cb1a0 put the radar envelope-key grants under an encryption-context condition: narrowed, so
  not widened; the same pair read backwards is a widening (the condition removed).

Each revision is synthed once for the module (four synths, two at a time), plus one by the
end-to-end run of ``python -m infra diff`` with a revision argument.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from infra import cli
from infra.cli import revisions
from infra.plan_diff.render import WIDENED

INTAKE = "2356b1a"  # every workflow starts with an intake task
BEFORE_INTAKE = "2356b1a^"
CONTEXT = "31cb1a0"  # radar: envelope-key grants only under the radar encryption context
BEFORE_CONTEXT = "31cb1a0^"
REVISIONS = (BEFORE_INTAKE, INTAKE, BEFORE_CONTEXT, CONTEXT)


@pytest.fixture(scope="module")
def synthed(tmp_path_factory) -> dict[str, str]:
    """Revision → a directory holding its synth output (made by the code ``diff`` synths revisions with)."""
    sources = []
    for revision in REVISIONS:
        if revisions.commit_of(revision) is None:
            pytest.skip(f"revision {revision} is not in this clone (a shallow checkout? CI fetches with fetch-depth 0)")
        sources.append(revisions.resolve(revision))
    root = tmp_path_factory.mktemp("revisions")
    found = {}
    with revisions.synthesized(sources, "dev") as outputs:
        for revision, output in zip(REVISIONS, outputs, strict=True):
            found[revision] = str(shutil.copytree(output, root / revision.replace("^", "-parent")))
    return found


def run_diff(capsys, base: str, head: str) -> str:
    assert cli.main(["diff", base, head]) == 0
    return capsys.readouterr().out


def section(text: str, title: str) -> str:
    start = text.index(f"### {title}")
    end = text.find("\n### ", start + 1)
    return text[start : end if end != -1 else len(text)]


def entry(text: str, title: str) -> str:
    """The top-level bullet starting with ``title`` and its sub-bullets."""
    start = text.index(f"- {title}")
    end = text.find("\n- ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_intake_change_shows_new_functions_widened_invokes_and_new_states(synthed, capsys):
    text = run_diff(capsys, synthed[BEFORE_INTAKE], synthed[INTAKE])
    summary = text.splitlines()[2]
    assert summary.startswith("**Resources: 8 added, 16 changed · IAM: 6 statements added, 2 changed (⚠ 8 widened)")
    assert "State machines: 3 changed (states: 5 added, 1 removed, 2 changed)" in summary
    # Widened permissions come first: the radar machine may now invoke its new intake function.
    assert text.index(f"### {WIDENED} (8)") < text.index("### Resources") < text.index("### IAM")
    widened = entry(section(text, WIDENED), "`radar-sfn-role` (role) · policy `radar-sfn-policy`")
    assert (
        "`InvokeFunctions`: **Allow** `lambda:InvokeFunction` — new resources "
        "`arn:aws:lambda:us-west-2:123456789012:function:sw-dev-radar-validate`" in widened
    )
    assert "- `radar-validate-role` (role) · trust policy (new)" in section(text, WIDENED)

    resources = section(text, "Resources")
    assert "- `radar-validate-function` (`aws:lambda/function:Function`)" in section(resources, "Resources")
    assert "- `incidents-validate-request-role` (`aws:iam/role:Role`)" in resources
    assert (
        "- `radar-sfn` (`aws:sfn/stateMachine:StateMachine`)\n  - `definition`: definition changed (see State machines)"
        in resources
    )
    hello = entry(resources, "`greeting-hello-function`")
    assert "`code.archive`: added `pipelines/common/inputs.py`" in hello

    iam = entry(section(text, "IAM"), "`radar-sfn-role` (role) · policy `radar-sfn-policy`")
    assert (
        "✎ `InvokeFunctions`: resources added `arn:aws:lambda:us-west-2:123456789012:function:sw-dev-radar-validate`"
        in iam
    )

    machines = section(text, "State machines")
    radar = entry(machines, "`radar`")
    assert "  - top level: `StartAt`: `ResolveTimestamp` → `ValidateInput`" in radar
    assert "  - ➕ `ValidateInput` (Task)" in radar and "  - ➕ `InputRejected` (Fail)" in radar
    incidents = entry(machines, "`incidents`")
    assert "  - ➖ `WrapRequest` (Pass)" in incidents
    assert "  - ✎ `FetchInitial` (Task): `Parameters`" in incidents
    assert '    - `Parameters["Payload.$"]`: removed (was `$`)' in incidents
    greeting = entry(machines, "`greeting`")
    assert "  - ✎ `InvokeLambda` (Task): `Catch`, `Comment`" in greeting
    assert "    - `Catch[0].Next`: `Failed` → `InputRejected`" in greeting


def test_a_condition_added_to_a_grant_is_a_change_but_not_a_widening(synthed, capsys):
    text = run_diff(capsys, synthed[BEFORE_CONTEXT], synthed[CONTEXT])
    assert text.splitlines()[2] == "**Resources: 2 changed · IAM: 2 changed · State machines: no changes**"
    assert WIDENED not in text and "⚠" not in text
    iam = section(text, "IAM")
    for role, policy in (
        ("radar-decrypt-role", "radar-decrypt-policy"),
        ("radar-provider-role", "radar-provider-policy"),
    ):
        assert (
            f"- `{role}` (role) · policy `{policy}`\n"
            "  - ✎ `EnvelopeKey`: conditions added `StringEquals kms:EncryptionContext:pipeline = radar`"
        ) in iam
    assert (
        "- `radar-decrypt-policy` (`aws:iam/rolePolicy:RolePolicy`)\n  - `policy`: statements 1 changed (see IAM)"
        in text
    )


def test_the_same_change_read_backwards_is_a_widening_by_a_removed_condition(synthed, capsys):
    text = run_diff(capsys, synthed[CONTEXT], synthed[BEFORE_CONTEXT])
    assert "(⚠ 2 widened)" in text.splitlines()[2]
    widened = section(text, WIDENED)
    assert text.index(widened) < text.index("### Resources")
    decrypt = entry(widened, "`radar-decrypt-role` (role) · policy `radar-decrypt-policy`")
    removed = "condition removed `StringEquals kms:EncryptionContext:pipeline = radar`"
    assert f"`EnvelopeKey`: **Allow** `kms:Decrypt` — {removed}" in decrypt
    provider = entry(widened, "`radar-provider-role` (role) · policy `radar-provider-policy`")
    assert "**Allow** `kms:GenerateDataKey` — condition removed" in provider


def test_python_m_infra_diff_synths_a_revision_argument_and_prints_the_same_markdown(synthed, capsys):
    expected = run_diff(capsys, synthed[BEFORE_CONTEXT], synthed[CONTEXT])
    done = subprocess.run(
        [sys.executable, "-m", "infra", "diff", synthed[BEFORE_CONTEXT], CONTEXT],
        capture_output=True,
        text=True,
        cwd=revisions.PROJECT_ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"HEAD {CONTEXT}: git revision {revisions.commit_of(CONTEXT)[:12]}" in done.stderr
    assert "Traceback" not in done.stderr
    heading, _, body = done.stdout.partition("\n")
    assert heading == f"## Infrastructure diff: `{synthed[BEFORE_CONTEXT]}` → `{CONTEXT}`"
    assert body == expected.partition("\n")[2]
