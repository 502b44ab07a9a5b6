"""`make demo` (python -m infra demo): every enabled pipeline runs through its real trigger and succeeds.

One deploy serves two checks: before the demo's sandbox is torn down, each pipeline's example
input (what `python -m infra run --help` shows) is run in it the way `run` runs it.
"""

import contextlib
import datetime
import io
import json
import re
import threading

import pytest

from infra.cli import DEBUG_ENV, main
from infra.cli.inputs import FILE_PIPELINES, read_input, read_upload
from infra.cli.sandbox import REQUEST_PIPELINES, request_and_report, run_and_report, upload_and_report
from infra.sandbox import approvals, environment
from infra.sandbox.scenarios import EXAMPLE_INPUTS, demo_first_day
from pipelines.uploads import generate

PIPELINES = ("greeting", "radar", "incidents", "uploads", "daily-analysis", "release-approval")
# What each example leaves behind (after the demo's own run of the pipeline).
LANDED = {
    "greeting": r"DynamoDB greeting-table-\w+: 1 new item\n +\{.*\"Message\": \"hello\"",
    "radar": r"S3 s3://radar-data-\w+: \d+ new objects\n(.*\n)* +org-cloudflare/2026-01-01T06:00:00Z/data\.json",
    "incidents": r"PostgreSQL sw-dev-incidents/incidents:\n(.*\n)* +runs: (\+1 row|new table, 1 row)",
    "uploads": r"S3 s3://uploads-data-\w+: \d+ new objects?\n(.*\n)* +uploads/sales\.json \(",
    # A re-run of yesterday: the same keys rewritten, so only the changed report and insights show.
    "daily-analysis": r"S3 s3://daily-analysis-data-\w+: .*\d+ changed\n(.*\n)* +reports/date=[\d-]+/report\.txt",
    # The request put under inputs/, and the run's result and log.
    "release-approval": r"S3 s3://release-approval-data-\w+: 3 new objects\n(.*\n)* +outputs/\w+/result\.json \(",
}
# Each store-day the example file wrote, one readable line (5 stores x 2 days, generate's defaults).
STORE_DAY = re.compile(
    r"^  S\d+ \d{4}-\d\d-\d\d: revenue -?[\d,]+\.\d\d [A-Z]{3}, -?[\d,]+ units, [\d,]+ transactions, "
    r"average basket -?[\d,]+\.\d\d [A-Z]{3}, [\d,]+ refund lines? \([\d,]+\.\d\d [A-Z]{3}\), [\d,]+ products$",
    re.M,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``python -m infra demo``'s exit status and stdout, and ``run``'s report of each example in its sandbox."""
    real = environment.sandbox_environment
    examples = {}

    @contextlib.contextmanager
    def then_run_the_examples(*args, **kwargs):
        with real(*args, **kwargs) as sandbox:
            yield sandbox
            for pipeline, text in EXAMPLE_INPUTS.items():
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    if pipeline in REQUEST_PIPELINES:
                        # Jira answers from elsewhere, as `python -m infra callback` would.
                        story = json.loads(text)["storyId"]
                        jira = threading.Thread(target=approve_once_waiting, args=(sandbox, story), daemon=True)
                        jira.start()
                        status = request_and_report(sandbox, pipeline, read_input(text))
                        jira.join(timeout=30)
                    else:
                        status = run_and_report(sandbox, pipeline, read_input(text))
                examples[pipeline] = (status, out.getvalue())
            # `run uploads --file sales.json`, with the file the help's example generates.
            sales = tmp_path_factory.mktemp("upload") / "sales.json"
            assert generate.main(["--out", str(sales)]) == 0
            with contextlib.redirect_stdout(io.StringIO()) as out:
                status = upload_and_report(sandbox, "uploads", read_upload(str(sales), "uploads"))
            examples["uploads"] = (status, out.getvalue())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(environment, "sandbox_environment", then_run_the_examples)
        # An unexpected exception fails the fixture with its traceback rather than as a one-line exit 1.
        patch.setenv(DEBUG_ENV, "1")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["demo"])
    # A failing demo says why on stderr: keep it with stdout for the assertion messages.
    return code, out.getvalue() + err.getvalue() if code else out.getvalue(), examples


def approve_once_waiting(sandbox, story: str) -> None:
    """Approve ``story`` as soon as its token is stored (polls the token table)."""
    import time

    table = sandbox.outputs("release-approval")["tokenTableName"]
    for _ in range(1000):
        item = sandbox.client("dynamodb").get_item(TableName=table, Key={"storyId": {"S": story}}, ConsistentRead=True)
        if item.get("Item", {}).get("status", {}).get("S") == "PENDING":
            approvals.jira(sandbox).send(story, "approved", "from the test", "tester")
            return
        time.sleep(0.02)


def test_the_demo_runs_every_pipeline_and_exits_zero(demo):
    code, out, _ = demo
    assert code == 0, out
    rows = {
        line.split()[0]: line.split()[1] for line in out.splitlines() if line.split()[:1] in ([p] for p in PIPELINES)
    }
    assert rows == dict.fromkeys(PIPELINES, "SUCCEEDED"), out
    (uploads,) = [line for line in out.splitlines() if line.startswith("uploads ")]
    # The month of sales the demo leaves for daily-analysis: 5 stores x 29 days up to yesterday.
    first, last = demo_first_day(), datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
    assert re.search(
        r"3,954 records loaded, 3 rejected \(s3://\S+/rejects/uploads/demo-month\.json\.ndjson\); "
        rf"145 store-day summaries for {first}\.\.{last}",
        uploads,
    ), uploads
    # daily-analysis finds the store the demo put at 5x yesterday, and the report e-mail is shown.
    (analysis,) = [line for line in out.splitlines() if line.startswith("daily-analysis ")]
    assert re.search(rf"{last}: \d+ anomalies \(S003 spike x[\d.]+.*\); report sent", analysis), analysis
    assert re.search(rf"daily report e-mail — Subject: Daily sales {last}: ", out), out
    assert "Headline figures" in out
    # Stack outputs that are not pipelines (the access log bucket) get no row.
    assert "accessLogBucket" not in out.split("pipeline", 1)[1]


@pytest.mark.parametrize("pipeline", sorted({*EXAMPLE_INPUTS, *FILE_PIPELINES}))
def test_each_example_input_of_run_help_succeeds(demo, pipeline):
    assert pipeline in demo[2], f"the demo ended before its examples ran:\n{demo[1]}"
    status, out = demo[2][pipeline]
    assert status == 0, out
    assert "\nSUCCEEDED in " in out
    landed = out.split("\nlanded:\n", 1)[1]
    assert re.search(LANDED[pipeline], landed), landed


def test_run_uploads_file_prints_every_store_day_summary_it_wrote(demo):
    assert "uploads" in demo[2], f"the demo ended before its examples ran:\n{demo[1]}"
    status, out = demo[2]["uploads"]
    assert status == 0, out
    assert "\nthe upload started arn:aws:states:us-west-2:123456789012:execution:sw-dev-uploads:" in out
    written = out.split("\nstore-day summaries written:\n", 1)[1].split("\nlanded:", 1)[0]
    assert len(STORE_DAY.findall(written)) == 10, written
