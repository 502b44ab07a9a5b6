"""`make demo` (python -m infra demo): every enabled pipeline runs through its real trigger and succeeds."""

from infra.cli import main


def test_the_demo_runs_every_pipeline_and_exits_zero(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split()[0]: line.split()[1]
        for line in out.splitlines()
        if line.split()[:1] in (["greeting"], ["radar"], ["incidents"])
    }
    assert rows == {"greeting": "SUCCEEDED", "radar": "SUCCEEDED", "incidents": "SUCCEEDED"}, out
    # Stack outputs that are not pipelines (the access log bucket) get no row.
    assert "accessLogBucket" not in out.split("pipeline", 1)[1]
