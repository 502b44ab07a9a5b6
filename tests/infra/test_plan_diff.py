"""``infra diff`` on small synth outputs written by the test: what it calls changed, added, widened.

The same comparison on real revisions of this repository is in tests/infra/test_diff_revisions.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from infra import cli
from infra.cli import revisions
from infra.cli.common import UsageError
from infra.plan_diff import compare, load_snapshot, render_markdown
from infra.plan_diff.machines import compare_machines, flatten_states
from infra.plan_diff.policies import compare_statements, glob_covers
from infra.plan_diff.render import NO_CHANGES, WIDENED
from infra.plan_diff.values import Change, ItemsChange, diff, short
from tests.infra.test_cli import one_error_line

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
FUNCTION = "aws:lambda/function:Function"
BUCKET_ARN = "arn:aws:s3:::data-1234567"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
    ],
}


def document(*statements: dict) -> str:
    """A policy as the synth holds it: JSON text."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def allow(actions, resources, sid="", condition=None) -> dict:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if sid:
        statement["Sid"] = sid
    if condition:
        statement["Condition"] = condition
    return statement


def role_resources(*statements: dict, name: str = "fetch") -> list[dict]:
    """A role (trust policy for Lambda) and its role policy, named as the program names them."""
    return [
        {"type": ROLE, "name": f"{name}-role", "inputs": {"assumeRolePolicy": json.dumps(TRUST)}},
        {
            "type": ROLE_POLICY,
            "name": f"{name}-policy",
            "inputs": {"role": f"{name}-role-1a2b3c4", "policy": document(*statements)},
        },
    ]


def write_synth(directory: Path, resources: list[dict], machines: dict[str, dict] | None = None) -> Path:
    """A synth output directory: resources.json and a ``<name>.asl.json`` per state machine."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "resources.json").write_text(json.dumps(resources, indent=2, sort_keys=True))
    for name, definition in (machines or {}).items():
        (directory / f"{name}.asl.json").write_text(json.dumps(definition, indent=2, sort_keys=True))
    return directory


def markdown(tmp_path: Path, before: list[dict], after: list[dict], machines=(None, None), **kwargs) -> str:
    """The Markdown ``infra diff`` prints for two synth outputs holding ``before`` and ``after``."""
    base = load_snapshot(write_synth(tmp_path / "base", before, machines[0]))
    head = load_snapshot(write_synth(tmp_path / "head", after, machines[1]))
    return render_markdown(compare(base, head), "base", "head", **kwargs)


def section(text: str, title: str) -> str:
    """The lines of one ``### title`` section."""
    start = text.index(f"### {title}")
    end = text.find("\n### ", start + 1)
    return text[start : end if end != -1 else len(text)]


# -- no changes, the command -------------------------------------------------------------------------


def test_equal_synth_outputs_print_no_changes_and_exit_0(tmp_path, capsys):
    resources = role_resources(allow("s3:GetObject", f"{BUCKET_ARN}/*"))
    write_synth(tmp_path / "a", resources, {"p": {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}})
    write_synth(
        tmp_path / "b", list(reversed(resources)), {"p": {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}}
    )
    assert cli.main(["diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert NO_CHANGES in out and "###" not in out


def test_diff_writes_the_markdown_to_out_and_only_progress_to_stderr(tmp_path, capsys):
    write_synth(tmp_path / "a", role_resources(allow("s3:GetObject", "*")))
    write_synth(tmp_path / "b", role_resources(allow("s3:PutObject", "*")))
    target = tmp_path / "comment" / "diff.md"
    assert cli.main(["diff", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(target)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"wrote {target}" in captured.err
    assert target.read_text().startswith(f"## Infrastructure diff: `{tmp_path / 'a'}` → `{tmp_path / 'b'}`")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["diff", "no-such-dir-or-rev", "HEAD"],
            "'no-such-dir-or-rev' is neither a synth output directory nor a git revision of this repository",
        ),
        (
            ["diff", "tests", "HEAD"],
            "'tests' is a directory but not synth output (no resources.json), nor a git revision",
        ),
    ],
)
def test_an_argument_that_is_neither_is_one_line_and_exit_2(capsys, argv, says):
    assert cli.main(argv) == 2
    assert one_error_line(capsys.readouterr().err) == f"error: {says}"


def test_a_directory_named_like_a_revision_is_ambiguous_and_says_how_to_choose(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_synth(tmp_path / "HEAD", [])
    with pytest.raises(UsageError, match=r"'HEAD' is both a synth output directory and a git revision") as raised:
        revisions.resolve("HEAD")
    assert "./HEAD for the directory or HEAD^{commit} for the revision" in str(raised.value)
    assert revisions.resolve("./HEAD").directory == Path("HEAD")
    assert revisions.resolve("HEAD^{commit}").commit == revisions.commit_of("HEAD")


def test_out_onto_a_directory_and_bad_synth_output_are_usage_errors(tmp_path, capsys):
    write_synth(tmp_path / "a", [])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "resources.json").write_text("{not json")
    assert cli.main(["diff", str(tmp_path / "a"), str(tmp_path / "a"), "--out", str(tmp_path)]) == 2
    assert one_error_line(capsys.readouterr().err) == f"error: --out {tmp_path}: name a file, not a directory"
    assert cli.main(["diff", str(tmp_path / "a"), str(tmp_path / "broken")]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(
        f"error: {tmp_path / 'broken' / 'resources.json'}: not JSON"
    )


def test_a_revision_whose_synth_fails_is_one_line_naming_it_and_exit_1(tmp_path, capsys):
    first = subprocess.run(
        ["git", "rev-list", "--max-parents=0", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
        cwd=revisions.PROJECT_ROOT,
    ).stdout.split()[-1]  # the first commit has no python -m infra at all
    write_synth(tmp_path / "a", [])
    assert cli.main(["diff", first, str(tmp_path / "a")]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: synth of revision {first[:7]} failed (exit 1): ") and "infra" in line


# -- resources ------------------------------------------------------------------------------------------


def test_changed_properties_are_listed_by_path_old_to_new(tmp_path):
    before = [{"type": FUNCTION, "name": "fetch", "inputs": {"timeout": 30, "environment": {"variables": {"A": "1"}}}}]
    after = [
        {
            "type": FUNCTION,
            "name": "fetch",
            "inputs": {"timeout": 60, "environment": {"variables": {"A": "1", "B": "2"}}},
        }
    ]
    text = section(markdown(tmp_path, before, after), "Resources")
    assert "**Changed (1)**" in text and f"- `fetch` (`{FUNCTION}`)" in text
    assert "  - `timeout`: `30` → `60`" in text
    assert "  - `environment.variables.B`: added `2`" in text
    assert "`environment.variables.A`" not in text


def test_a_number_the_mocks_pass_as_a_float_is_not_a_change():
    assert diff({"days": 30}, {"days": 30.0}) == []
    assert diff({"days": 30, "on": True}, {"days": 30.5, "on": False}) == [
        Change("days", 30, 30.5),
        Change("on", True, False),
    ]


def test_a_renamed_resource_is_one_removed_and_one_added(tmp_path):
    before = [{"type": FUNCTION, "name": "fetch", "inputs": {"timeout": 30}}]
    after = [{"type": FUNCTION, "name": "fetch-orgs", "inputs": {"timeout": 30}}]
    text = markdown(tmp_path, before, after)
    assert "Resources: 1 added, 1 removed" in text
    assert "**Added (1)**\n\n- `fetch-orgs`" in text and "**Removed (1)**\n\n- `fetch`" in text
    assert "**Changed" not in text


def test_lists_of_values_are_compared_as_members_and_objects_by_their_id():
    before = {"archive": ["a.py", "b.py"], "rules": [{"id": "old", "days": 7}, {"id": "expire", "days": 30}]}
    after = {"archive": ["a.py", "c.py"], "rules": [{"id": "expire", "days": 60}, {"id": "old", "days": 7}]}
    assert diff(before, after) == [
        ItemsChange("archive", added=("c.py",), removed=("b.py",)),
        Change("rules[id=expire].days", 30, 60),
    ]
    assert diff({"l": ["a", "b"]}, {"l": ["b", "a"]}) == [ItemsChange("l", reordered=True)]


def test_a_json_text_property_is_compared_as_what_it_holds():
    before = {"eventPattern": json.dumps({"detail": {"object": {"key": [{"prefix": "uploads/"}]}}})}
    after = {"eventPattern": json.dumps({"detail": {"object": {"key": [{"prefix": "incoming/"}]}}}, indent=2)}
    assert diff(before, after) == [Change("eventPattern.detail.object.key[0].prefix", "uploads/", "incoming/")]


def test_a_long_value_is_shortened_with_its_start_and_end_kept():
    arn = "arn:aws:lambda:us-west-2:123456789012:function:" + "x" * 200 + ":live"
    shown = short(arn, 60)
    assert len(shown) == 60 and shown.startswith("arn:aws:lambda") and shown.endswith(":live") and "…" in shown
    assert short("line one\nline two") == "line one\\nline two"


def test_a_policy_or_definition_input_points_to_its_own_section(tmp_path):
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    changed = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Result": 1}}}
    machine = "aws:sfn/stateMachine:StateMachine"
    before = [
        *role_resources(allow("s3:GetObject", "*")),
        {"type": machine, "name": "p-sfn", "inputs": {"definition": json.dumps(definition)}},
    ]
    after = [
        *role_resources(allow("s3:GetObject", "*"), allow("s3:PutObject", "*")),
        {"type": machine, "name": "p-sfn", "inputs": {"definition": json.dumps(changed)}},
    ]
    text = section(markdown(tmp_path, before, after, ({"p": definition}, {"p": changed})), "Resources")
    assert "  - `policy`: statements 1 added (see IAM)" in text
    assert "  - `definition`: definition changed (see State machines)" in text
    assert "Statement" not in text and "States" not in text


# -- IAM ------------------------------------------------------------------------------------------------


def test_a_widened_permission_comes_first_in_its_own_section(tmp_path):
    before = [
        *role_resources(allow("s3:GetObject", f"{BUCKET_ARN}/*", sid="Read"), name="fetch"),
        *role_resources(allow(["s3:GetObject", "s3:PutObject"], f"{BUCKET_ARN}/*", sid="Write"), name="store"),
    ]
    after = [
        *role_resources(allow(["s3:GetObject", "s3:DeleteObject"], f"{BUCKET_ARN}/*", sid="Read"), name="fetch"),
        *role_resources(allow("s3:PutObject", f"{BUCKET_ARN}/*", sid="Write"), name="store"),  # narrowed
    ]
    text = markdown(tmp_path, before, after)
    assert text.index(f"### {WIDENED}") < text.index("### Resources") < text.index("### IAM")
    widened = section(text, WIDENED)
    assert "`fetch-role` (role) · policy `fetch-policy`" in widened
    assert "new action `s3:DeleteObject`" in widened
    assert "store" not in widened  # a narrowed statement is not called widened
    iam = section(text, "IAM")
    assert "✎ `Read`: actions added `s3:DeleteObject`" in iam
    assert "✎ `Write`: actions removed `s3:GetObject`" in iam
    assert "(⚠ 1 widened)" in text.splitlines()[2]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(allow(["s3:GetObject", "s3:PutObject"], "*"), allow("s3:GetObject", "*"), id="action removed"),
        pytest.param(
            allow("s3:GetObject", "*"), allow("s3:GetObject", f"{BUCKET_ARN}/*"), id="resource narrowed from *"
        ),
        pytest.param(allow("s3:*", f"{BUCKET_ARN}/*"), allow("s3:Get*", f"{BUCKET_ARN}/in/*"), id="wildcards narrowed"),
        pytest.param(
            allow("kms:Decrypt", "*"),
            allow("kms:Decrypt", "*", condition={"StringEquals": {"kms:EncryptionContext:pipeline": "radar"}}),
            id="condition added",
        ),
        pytest.param(
            allow("kms:Decrypt", "*", condition={"StringEquals": {"aws:SourceAccount": ["1", "2"]}}),
            allow("kms:Decrypt", "*", condition={"StringEquals": {"aws:SourceAccount": "1"}}),
            id="condition values fewer",
        ),
        pytest.param(
            allow("sts:AssumeRole", "*", condition={"ArnLike": {"aws:SourceArn": "arn:aws:states:*:1:stateMachine:*"}}),
            allow(
                "sts:AssumeRole",
                "*",
                condition={"ArnLike": {"aws:SourceArn": "arn:aws:states:us-west-2:1:stateMachine:p"}},
            ),
            id="condition pattern narrowed",
        ),
    ],
)
def test_a_narrowed_statement_is_not_called_widened(before, after):
    result = compare_statements((before,), (after,))
    assert result.changed and not result.widened


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        pytest.param(
            allow("s3:GetObject", "*"),
            allow(["s3:GetObject", "s3:PutObject"], "*"),
            "new action: s3:PutObject",
            id="action",
        ),
        pytest.param(
            allow("s3:GetObject", f"{BUCKET_ARN}/in/*"),
            allow("s3:GetObject", "*"),
            "wider resource: *",
            id="wildcard resource",
        ),
        pytest.param(
            allow("s3:GetObject", f"{BUCKET_ARN}/in/*"),
            allow("s3:GetObject", "arn:aws:s3:::other/*"),
            "new resource: arn:aws:s3:::other/*",
            id="other resource",
        ),
        pytest.param(allow("s3:GetObject", "*"), allow("s3:*", "*"), "new action: s3:*", id="action wildcard"),
        pytest.param(
            allow("kms:Decrypt", "*", condition={"StringEquals": {"kms:EncryptionContext:pipeline": "radar"}}),
            allow("kms:Decrypt", "*"),
            "condition removed: StringEquals kms:EncryptionContext:pipeline = radar",
            id="condition removed",
        ),
        pytest.param(
            allow("kms:Decrypt", "*", condition={"StringEquals": {"aws:SourceAccount": "1"}}),
            allow("kms:Decrypt", "*", condition={"StringEquals": {"aws:SourceAccount": ["1", "2"]}}),
            "condition widened: StringEquals aws:SourceAccount = 1, 2 (was 1)",
            id="condition values more",
        ),
    ],
)
def test_a_widened_statement_says_how(before, after, reason):
    (widening,) = compare_statements((before,), (after,)).widened
    kind, subject = reason.split(": ", 1)
    assert [(r.kind, r.subjects) for r in widening.reasons] == [(kind, (subject,))]


def test_a_new_trusted_principal_and_a_lifted_deny_are_widened(tmp_path):
    trust = json.loads(json.dumps(TRUST))
    wider = json.loads(json.dumps(TRUST))
    wider["Statement"][0]["Principal"] = {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}
    deny = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    before = [
        {"type": ROLE, "name": "run-role", "inputs": {"assumeRolePolicy": json.dumps(trust)}},
        {"type": BUCKET_POLICY, "name": "data-policy", "inputs": {"bucket": "data-1234567", "policy": document(deny)}},
    ]
    after = [
        {"type": ROLE, "name": "run-role", "inputs": {"assumeRolePolicy": json.dumps(wider)}},
        {"type": BUCKET_POLICY, "name": "data-policy", "inputs": {"bucket": "data-1234567", "policy": document()}},
    ]
    widened = section(markdown(tmp_path, before, after), WIDENED)
    assert "`run-role` (role) · trust policy" in widened and "new principal `Service: states.amazonaws.com`" in widened
    assert "`data-policy` (s3/bucketPolicy) · policy" in widened
    assert f"Deny no longer covers `s3:* on {BUCKET_ARN}`" in widened


def test_statements_equal_once_normalised_are_no_change(tmp_path):
    before = {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*", "Principal": {"AWS": "*"}}
    after = {"Action": ["s3:getobject", "s3:PutObject"], "Effect": "Allow", "Resource": ["*"], "Principal": "*"}
    assert not compare_statements((before,), (after,))
    text = markdown(
        tmp_path,
        [{"type": BUCKET_POLICY, "name": "p", "inputs": {"policy": document(before)}}],
        [
            {
                "type": BUCKET_POLICY,
                "name": "p",
                "inputs": {"policy": json.dumps({"Statement": [after], "Version": "2012-10-17"})},
            }
        ],
    )
    assert NO_CHANGES in text


def test_statements_added_and_removed_are_listed_per_role(tmp_path):
    before = role_resources(
        allow("s3:GetObject", "*", sid="Read"), allow("sqs:SendMessage", "arn:aws:sqs:us-west-2:1:q", sid="Queue")
    )
    after = role_resources(
        allow("s3:GetObject", "*", sid="Read"), allow("sns:Publish", "arn:aws:sns:us-west-2:1:t", sid="Topic")
    )
    iam = section(markdown(tmp_path, before, after), "IAM")
    assert "- `fetch-role` (role) · policy `fetch-policy`" in iam
    assert "  - ➕ `Topic`: **Allow** `sns:Publish` on `arn:aws:sns:us-west-2:1:t`" in iam
    assert "  - ➖ `Queue`: **Allow** `sqs:SendMessage` on `arn:aws:sqs:us-west-2:1:q`" in iam
    assert "Read" not in iam


def test_iam_wildcards_cover_as_iam_reads_them():
    assert glob_covers("s3:*", "s3:GetObject") and glob_covers("S3:Get*", "s3:getobject")
    assert glob_covers("arn:aws:s3:::b/*", "arn:aws:s3:::b/in/*")
    assert not glob_covers("arn:aws:s3:::b/in/*", "arn:aws:s3:::b/*")
    assert glob_covers("s3:Get?bject", "s3:GetObject") and not glob_covers("s3:Get", "s3:GetObject")


# -- state machines ---------------------------------------------------------------------------------------


def task(resource: str = "arn:aws:states:::lambda:invoke", **fields) -> dict:
    return {"Type": "Task", "Resource": resource, "End": True, **fields}


def test_a_changed_state_lists_its_changed_fields_and_states_in_and_out(tmp_path):
    before = {
        "StartAt": "Fetch",
        "States": {
            "Fetch": task(TimeoutSeconds=30, Retry=[{"ErrorEquals": ["A"], "MaxAttempts": 3}]),
            "Old": {"Type": "Pass", "End": True},
        },
    }
    after = {
        "StartAt": "Fetch",
        "States": {
            "Fetch": task(TimeoutSeconds=60, Retry=[{"ErrorEquals": ["A"], "MaxAttempts": 5}]),
            "New": {"Type": "Succeed"},
        },
    }
    text = section(markdown(tmp_path, [], [], ({"radar": before}, {"radar": after})), "State machines")
    assert "- `radar`" in text
    assert "  - ➕ `New` (Succeed)" in text and "  - ➖ `Old` (Pass)" in text
    assert "  - ✎ `Fetch` (Task): `Retry`, `TimeoutSeconds`" in text
    assert "    - `Retry[0].MaxAttempts`: `3` → `5`" in text
    assert "    - `TimeoutSeconds`: `30` → `60`" in text


def test_states_inside_a_parallel_or_a_map_are_compared_by_their_qualified_name():
    branch = {"StartAt": "Detect", "States": {"Detect": task(TimeoutSeconds=10)}}
    before = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [branch]}}}
    after = json.loads(json.dumps(before))
    after["States"]["Both"]["Branches"][0]["States"]["Detect"]["TimeoutSeconds"] = 20
    after["States"]["Both"]["Branches"][0]["States"]["Explain"] = task()
    assert set(flatten_states(after)) == {"Both", "Both › Detect", "Both › Explain"}
    result = compare_machines(before, after)
    assert result.added == [("Both › Explain", "Task")]
    assert [(c.name, c.fields) for c in result.changed] == [("Both › Detect", ["TimeoutSeconds"])]  # not "Both" itself


def test_a_new_and_a_removed_state_machine_are_counted_by_states(tmp_path):
    one = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    text = markdown(tmp_path, [], [], ({"old": one}, {"release-approval": one}))
    assert "- `release-approval`: new (2 states)" in text and "- `old`: removed (2 states)" in text
    assert "State machines: 1 added, 1 removed" in text


def test_a_long_diff_is_cut_at_a_line_and_says_so(tmp_path):
    before = [{"type": FUNCTION, "name": f"f{i}", "inputs": {"timeout": 1}} for i in range(200)]
    after = [{"type": FUNCTION, "name": f"f{i}", "inputs": {"timeout": 2}} for i in range(200)]
    text = markdown(tmp_path, before, after, max_chars=2000)
    assert len(text) <= 2000
    assert text.rstrip().endswith("for the whole diff") and "cut at 2,000 of" in text
