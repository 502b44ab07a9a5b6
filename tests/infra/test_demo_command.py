"""`make demo` (python -m infra demo): every enabled pipeline runs through its real trigger and succeeds.

One deploy serves two checks: before the demo's sandbox is torn down, each pipeline's example
input (what `python -m infra run --help` shows) is run in it the way `run` runs it.
"""

import contextlib
import io
import re

import pytest

from infra.cli import main
from infra.cli.inputs import read_input
from infra.cli.sandbox import run_and_report
from infra.sandbox import environment
from infra.sandbox.scenarios import EXAMPLE_INPUTS

# What each example leaves behind (after the demo's own run of the pipeline).
LANDED = {
    "greeting": r"DynamoDB greeting-table-\w+: 1 new item\n +\{.*\"Message\": \"hello\"",
    "radar": r"S3 s3://radar-data-\w+: \d+ new objects\n(.*\n)* +org-cloudflare/2026-01-01T06:00:00Z/data\.json",
    "incidents": r"PostgreSQL sw-dev-incidents/incidents:\n(.*\n)* +runs: (\+1 row|new table, 1 row)",
}


@pytest.fixture(scope="module")
def demo():
    """``python -m infra demo``'s exit status and stdout, and ``run``'s report of each example in its sandbox."""
    real = environment.sandbox_environment
    examples = {}

    @contextlib.contextmanager
    def then_run_the_examples(*args, **kwargs):
        with real(*args, **kwargs) as sandbox:
            yield sandbox
            for pipeline, text in EXAMPLE_INPUTS.items():
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    status = run_and_report(sandbox, pipeline, read_input(text))
                examples[pipeline] = (status, out.getvalue())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(environment, "sandbox_environment", then_run_the_examples)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(["demo"])
    return code, out.getvalue(), examples


def test_the_demo_runs_every_pipeline_and_exits_zero(demo):
    code, out, _ = demo
    assert code == 0, out
    rows = {
        line.split()[0]: line.split()[1]
        for line in out.splitlines()
        if line.split()[:1] in (["greeting"], ["radar"], ["incidents"])
    }
    assert rows == {"greeting": "SUCCEEDED", "radar": "SUCCEEDED", "incidents": "SUCCEEDED"}, out
    # Stack outputs that are not pipelines (the access log bucket) get no row.
    assert "accessLogBucket" not in out.split("pipeline", 1)[1]


@pytest.mark.parametrize("pipeline", list(EXAMPLE_INPUTS))
def test_each_example_input_of_run_help_succeeds(demo, pipeline):
    status, out = demo[2][pipeline]
    assert status == 0, out
    assert "\nSUCCEEDED in " in out
    landed = out.split("\nlanded:\n", 1)[1]
    assert re.search(LANDED[pipeline], landed), landed
