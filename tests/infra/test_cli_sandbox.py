"""``python -m infra run`` for real: it deploys only the pipeline it runs and prints what landed.

One greeting deploy (the example inputs of every pipeline run in the demo's sandbox, see
test_demo_command.py); Ctrl-C is checked on a sandbox interrupted while it deploys.
"""

from __future__ import annotations

import contextlib
import logging
import re

import pytest

from infra import cli
from infra.sandbox import environment
from infra.sandbox.core import Sandbox
from infra.sandbox.services import RadarServices


@pytest.fixture
def deployed_sandboxes(monkeypatch):
    """The sandboxes the command deployed (kept for inspection after it returns)."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    real = environment.sandbox_environment
    sandboxes = []

    @contextlib.contextmanager
    def spy(*args, **kwargs):
        with real(*args, **kwargs) as sandbox:
            sandboxes.append(sandbox)
            yield sandbox

    monkeypatch.setattr(environment, "sandbox_environment", spy)
    return sandboxes


def test_run_deploys_only_its_pipeline_shows_progress_and_prints_what_landed_in_unicode(deployed_sandboxes, capsys):
    message = "héllo ✓ 日本"
    assert cli.main(["run", "greeting", "--input", f'{{"message": "{message}"}}', "--stack", "dev"]) == 0
    out, err = capsys.readouterr()
    (sandbox,) = deployed_sandboxes
    assert sandbox.program.pipelines == ["greeting"] and sandbox.services == {}
    assert err.startswith("deploying greeting into the sandbox (stack dev)…\n")
    assert re.search(r"^deployed \d+ resources in \d+\.\ds$", err, re.M), err
    assert "\nSUCCEEDED in " in out and f'"Message": "{message}"' in out
    landed = out.split("\nlanded:\n", 1)[1]
    assert re.search(rf"DynamoDB greeting-table-\w+: 1 new item\n +\{{.*\"Message\": \"{message}\"", landed), landed
    assert "\\u" not in out


def test_ctrl_c_while_deploying_tears_the_sandbox_down(monkeypatch, capsys):
    exits, stops = [], []
    real_exit, real_stop = Sandbox.__exit__, RadarServices.stop

    def interrupted(self):
        raise KeyboardInterrupt

    def exit_(self, *exc):
        exits.append(exc[0])
        return real_exit(self, *exc)

    def stop(self):
        stops.append(self)
        real_stop(self)

    monkeypatch.setattr(Sandbox, "deploy", interrupted)
    monkeypatch.setattr(Sandbox, "__exit__", exit_)
    monkeypatch.setattr(RadarServices, "stop", stop)
    assert cli.main(["run", "radar"]) == 130
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "interrupted" and "Traceback" not in err
    assert exits == [KeyboardInterrupt]  # the emulator, IAM and the HTTP APIs stopped
    assert len(stops) == 1  # the Radar fake stopped


def test_run_uploads_file_follows_the_run_the_upload_started_and_exits_1_when_it_fails(
    deployed_sandboxes, capsys, tmp_path
):
    empty = tmp_path / "empty day.json"
    empty.write_bytes(b"")
    assert cli.main(["run", "uploads", "--file", str(empty)]) == 1
    out = capsys.readouterr().out
    (sandbox,) = deployed_sandboxes
    assert sandbox.program.pipelines == ["uploads"]
    assert "uploaded s3://uploads-data-" in out and "/uploads/empty day.json (0 bytes from " in out
    assert "\nFAILED in " in out and "EmptyUploadError" in out
    assert "store-day summaries written: none" in out
    landed = out.split("\nlanded:\n", 1)[1]
    assert "quarantine/uploads/empty day.json.error.json" in landed
