"""``python -m infra cost``: the meter counts exactly what greeting's demo run did, and nothing of the setup.

One real run (``cost --pipeline greeting``: greeting alone deploys in a few seconds) serves the
metering and output tests; the usage it priced is caught on its way to the report. The user errors
are checked without deploying anything.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from infra import cli
from infra.cli import cost as cost_command
from infra.sandbox import environment, program

HELLO = "sw-dev-greeting-hello"


@pytest.fixture(scope="module")
def greeting_cost():
    """(exit status, stdout, stderr, the reports priced) of ``python -m infra cost --pipeline greeting``."""
    priced = []
    real = cost_command._price

    def keep(*args, **kwargs):
        result = real(*args, **kwargs)
        priced.append(result)
        return result

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cost_command, "_price", keep)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["cost", "--pipeline", "greeting"])
    ((reports, _fixed, region),) = priced
    return status, out.getvalue(), err.getvalue(), reports, region


def test_greeting_is_metered_as_exactly_what_its_run_did(greeting_cost):
    status, _, err, reports, region = greeting_cost
    assert status == 0, err
    (report,) = reports
    use = report.usage
    # POST /greetings → StartExecution (API Gateway's role) → hello → Pass → putItem.
    assert use.api_requests == 1 and use.api_units == 1
    (run,) = use.executions
    assert (run.machine_type, run.status, run.transitions, run.retries, run.root) == (
        "STANDARD",
        "SUCCEEDED",
        3,
        0,
        True,
    )
    assert list(use.functions) == [HELLO]
    hello = use.functions[HELLO]
    assert (hello.invocations, hello.memory_mb, hello.architecture, hello.errors) == (1, 128, "x86_64", 0)
    assert hello.billed_ms >= 1
    assert (use.dynamodb_requests, use.dynamodb_wru, use.dynamodb_rru) == (1, 1, 0)
    assert dict(use.unpriced) == {"lambda:Invoke": 1, "sfn:StartExecution": 1}
    assert not use.s3 and not use.secrets_calls and not use.kms_calls and not use.bedrock
    assert use.scheduler_invocations == 0 and use.events_aws == 0
    assert region == "us-west-2"


def test_the_sandbox_s_own_calls_are_not_metered(greeting_cost):
    # The deploy came before the window; inside it the scenario read the table back (a Scan, as the
    # operator) and the meter followed the execution (DescribeExecution, GetExecutionHistory): none counts.
    use = greeting_cost[3][0].usage
    assert use.dynamodb_requests == 1  # the state machine's putItem only
    assert not any(name.startswith(("sfn:Describe", "sfn:GetExecution", "dynamodb:")) for name in use.unpriced)
    assert use.unattributed == 0 and not use.other_pipelines


def test_the_report_has_a_row_per_pipeline_with_both_workflow_types_and_the_fixed_cost(greeting_cost):
    _, out, _, reports, _ = greeting_cost
    (row,) = [line for line in out.splitlines() if line.startswith("greeting ")]
    cells = row.split()
    assert cells[:2] == ["greeting", "SUCCEEDED"] and "1,000" in cells and "yes" in cells
    standard = cost_command.usd(sum(line.usd for line in reports[0].standard))
    express = cost_command.usd(sum(line.usd for line in reports[0].express))
    assert standard in cells and express in cells and "$1.60" in cells  # its key and its 6 alarms
    assert "Step Functions Standard transitions  3" in out
    assert "fixed per month ($1.60): KMS key greeting-key $1.00" in out
    assert "a lower bound" in out and "before free tiers" in out and "2026-12-08" in out


# -- user errors, before anything deploys ---------------------------------------------------------


@pytest.fixture
def no_deploy(monkeypatch):
    """Fail the test if the command deploys a sandbox."""
    monkeypatch.setattr(environment, "sandbox_environment", lambda *a, **k: pytest.fail("deployed a sandbox"))


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "runs per month must be a positive number"), ("-3", "positive"), ("many", "is not a number of runs")],
)
def test_a_bad_runs_per_month_is_a_usage_error(no_deploy, capsys, value, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["cost", "--runs-per-month", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_unknown_pipeline_is_one_line_naming_the_pipelines(no_deploy, capsys):
    assert cli.main(["cost", "--pipeline", "greeting", "nope"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("error: unknown pipeline 'nope'; pipelines: greeting, radar")


def test_a_region_without_prices_is_one_line(no_deploy, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(program, "PROJECT_ROOT", tmp_path)
    (tmp_path / "Pulumi.eu.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    assert cli.main(["cost", "--stack", "eu"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("error: no price table for region 'eu-west-1' (infra/cost/prices.py has us-west-2")


def test_a_failure_while_pricing_is_one_line(no_deploy, monkeypatch, capsys):
    def broken(*args):
        raise RuntimeError("the meter\nbroke")

    monkeypatch.setattr(cost_command, "_price", broken)
    assert cli.main(["cost"]) == 1
    assert one_error_line(capsys.readouterr().err).startswith("error: RuntimeError: the meter broke (re-run with")
