"""`run release-approval` and `callback` as a user drives them: two processes, two terminals.

The first process deploys release-approval into its sandbox, puts the request under inputs/ and
waits at the callback; the second answers as Jira Automation would, through the first one's
session file (the served emulator, to read the shared secret by ARN) and its loopback route.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUEST = {"storyId": "CLI-1", "packages": ["billing-api@2.4.1"], "environment": "staging", "requester": "a@b.example"}


def infra(*args: str, env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, **kwargs
    )


@pytest.fixture
def env(tmp_path):
    # A session directory of the test's own: no other sandbox on this machine is found or disturbed.
    return {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}


def test_a_run_waits_for_jira_and_a_callback_from_another_process_approves_it(tmp_path, env):
    request = tmp_path / "release.json"
    request.write_text(json.dumps(REQUEST))
    run = subprocess.Popen(
        [sys.executable, "-m", "infra", "run", "release-approval", "--file", str(request)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        seen = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("or press Ctrl-C"):
                break
        printed = "".join(seen)
        assert "waiting for the Jira decision on CLI-1" in printed, printed + run.stderr.read()
        assert "python -m infra callback release-approval --issue CLI-1 --decision approved" in printed

        answered = infra("callback", "release-approval", "--issue", "CLI-1", "--decision", "approved", "--by", "bob",
                         env=env)  # fmt: skip
        assert answered.returncode == 0, answered.stderr
        assert "POST /callbacks/jira → 202" in answered.stdout and '"accepted"' in answered.stdout
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out + err
    assert "\nSUCCEEDED in " in out
    assert "outputs/" in out.split("\nlanded:\n", 1)[1] and "execution.log" in out
    # The session ended with its sandbox: nothing is left to answer.
    assert not list(tmp_path.glob("stepworks-*/sandbox-*.json"))
    late = infra("callback", "release-approval", "--issue", "CLI-1", "--decision", "approved", env=env)
    assert late.returncode == 2
    assert late.stderr.startswith("error: no sandbox of stack 'dev' is running on this machine")
    assert "Traceback" not in late.stderr
    # (An unknown story's 404, a duplicate's 200 and the rest of the API's answers: tests/e2e/test_release_approval.py.)


@pytest.mark.parametrize(
    "args, message",
    [
        (["callback", "greeting", "--issue", "X-1", "--decision", "approved"], "takes no callbacks"),
        (["callback", "release-approval", "--issue", "X-1", "--decision", "maybe"], "invalid choice: 'maybe'"),
        (["run", "greeting", "--advance", "1h"], "--advance: only a run that waits for a callback"),
        (["run", "release-approval", "--advance", "soon"], "is not a duration"),
    ],
)
def test_a_bad_callback_or_advance_is_one_line_and_exit_2(capsys, args, message):
    from infra.cli import main

    try:
        code = main(args)
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
