"""``python -m infra``: every user error is one line and an exit status, never a traceback.

Nothing here deploys a sandbox: ``no_deploy`` makes a deploy fail the test, and ``fake_sandbox``
stands in for one where a command has to get that far. tests/infra/test_cli_sandbox.py runs
the real thing.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from infra import cli
from infra.cli import sandbox as sandbox_command
from infra.cli import synth as synth_command
from infra.cli.inputs import FILE_PIPELINES, INPUT_LIMIT_BYTES
from infra.sandbox import environment, program, scenarios
from infra.sandbox.core import ExecutionResult
from infra.sandbox.database_url import DatabaseUrlError, check_database_url
from infra.sandbox.postgres import URL_ENV
from infra.workflows import WORKFLOWS

COMMANDS = {
    "synth": ["synth", "--out", "OUT"],
    "diff": ["diff", "OUT", "HEAD"],
    "docs": ["docs", "--out", "OUT"],
    "layers": ["layers"],
    "check": ["check"],
    "demo": ["demo"],
    "run": ["run", "greeting"],
    "cost": ["cost"],
}


def one_error_line(err: str) -> str:
    """The single ``error: …`` line a failed command printed (and nothing like a traceback)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def no_deploy(monkeypatch):
    """Fail the test if the command deploys a sandbox."""

    def refuse(*args, **kwargs):
        raise AssertionError("the command deployed a sandbox")

    monkeypatch.setattr(environment, "sandbox_environment", refuse)


@pytest.fixture
def stacks(tmp_path, monkeypatch):
    """Write ``Pulumi.<stack>.yaml`` files into a project directory of the test's own."""
    monkeypatch.setattr(program, "PROJECT_ROOT", tmp_path)

    def write(stack: str, text: str) -> str:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
        return stack

    return write


@dataclass
class FakeSandbox:
    """Just enough of a deployed sandbox for ``run``: it records what was started and succeeds."""

    started: list[dict] = field(default_factory=list)
    output: Any = None
    # Stands in for the ProgramRun: a deployed greeting that declared nothing to snapshot.
    program: Any = field(
        default_factory=lambda: SimpleNamespace(resources=[], pipelines=["greeting"], of_type=lambda typ: [])
    )
    databases: Any = None

    def outputs(self, pipeline):
        return {"stateMachineArn": f"arn:aws:states:us-west-2:123456789012:stateMachine:{pipeline}"}

    def client(self, service):
        assert service == "stepfunctions"
        return self

    def start_execution(self, **kwargs):
        self.started.append(kwargs)
        return {"executionArn": "arn:aws:states:us-west-2:123456789012:execution:greeting:run-1"}

    def wait(self, arn, timeout_s=0):
        return ExecutionResult(arn=arn, status="SUCCEEDED", output=self.output, duration_s=0.1, transitions=1)


@pytest.fixture
def fake_sandbox(monkeypatch):
    """``run`` and ``demo`` get a FakeSandbox instead of deploying."""
    fake = FakeSandbox()
    calls = []

    @contextlib.contextmanager
    def deployed(stack, pipelines, what):
        calls.append((stack, pipelines))
        yield fake

    monkeypatch.setattr(sandbox_command, "deployed", deployed)
    fake.calls = calls
    return fake


# -- --input -----------------------------------------------------------------------------------


def test_deeply_nested_input_is_one_line_and_exit_2(no_deploy, capsys):
    nested = "[" * 100_000 + "]" * 100_000
    assert cli.main(["run", "greeting", "--input", nested]) == 2
    assert one_error_line(capsys.readouterr().err).startswith("error: --input: nested deeper than")


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("{", "--input is not valid JSON: Expecting property name"),
        ('{"a": NaN}', "--input is not valid JSON: NaN is not JSON"),
        ("", "--input is not valid JSON"),
        ("\udcff", "--input is not UTF-8 text"),  # an undecodable byte on the command line
        ("@", "--input @: name a file"),
    ],
)
def test_bad_input_text_is_one_line_and_exit_2(no_deploy, capsys, given, says):
    assert cli.main(["run", "greeting", "--input", given]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"error: {says}")


def test_input_from_a_file_is_read_and_sent_as_given(fake_sandbox, tmp_path, capsys):
    body = json.dumps({"message": "é" * 100_000}, ensure_ascii=False) + "\n"  # 200 KB of UTF-8
    (tmp_path / "body.json").write_text(body, encoding="utf-8")
    assert cli.main(["run", "greeting", "--input", f"@{tmp_path / 'body.json'}"]) == 0
    (started,) = fake_sandbox.started
    assert started["input"] == body
    assert fake_sandbox.calls == [("dev", ["greeting"])]  # only the pipeline it runs
    assert f"{len(body.encode()):,} bytes of input from {tmp_path / 'body.json'}" in capsys.readouterr().out


def test_input_from_stdin(fake_sandbox, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'\xef\xbb\xbf{"message": "from stdin"}')))
    assert cli.main(["run", "greeting", "--input", "-"]) == 0
    assert json.loads(fake_sandbox.started[0]["input"]) == {"message": "from stdin"}


def test_a_300_kb_input_is_refused_naming_the_limit_before_deploying(no_deploy, tmp_path, capsys):
    (tmp_path / "big.json").write_text(json.dumps({"message": "x" * 300_000}))
    assert cli.main(["run", "greeting", "--input", f"@{tmp_path / 'big.json'}"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "300,015 bytes" in line and f"{INPUT_LIMIT_BYTES:,} bytes (256 KiB)" in line


def test_an_endless_stdin_is_refused_after_the_limit_not_read_whole(no_deploy, monkeypatch, capsys):
    endless = io.BytesIO(b" " * (4 * INPUT_LIMIT_BYTES))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(endless))
    assert cli.main(["run", "greeting", "--input", "-"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("error: --input (from stdin) is over Step Functions' execution input limit of 262,144")
    assert endless.tell() <= INPUT_LIMIT_BYTES + 4


@pytest.mark.parametrize("path", ["missing.json", "."])
def test_an_input_file_that_cannot_be_read_is_one_line(no_deploy, tmp_path, monkeypatch, capsys, path):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "greeting", "--input", f"@{path}"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: --input @{path}: ") and ("no such file" in line or "directory" in line)


def test_run_prints_output_as_readable_unicode(fake_sandbox, capsys):
    fake_sandbox.output = {"Message": "héllo ✓ 日本"}
    assert cli.main(["run", "greeting", "--input", '{"message": "héllo ✓ 日本"}']) == 0
    out = capsys.readouterr().out
    assert '"Message": "héllo ✓ 日本"' in out and "\\u" not in out


# -- pipelines ---------------------------------------------------------------------------------


def test_an_unknown_pipeline_is_refused_at_once_listing_the_pipelines(no_deploy, capsys):
    assert cli.main(["run", "nosuch"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("error: unknown pipeline 'nosuch'; pipelines: greeting, radar, incidents")
    assert "enabled in stack 'dev': greeting, radar, incidents" in line


def test_a_pipeline_the_stack_does_not_enable_is_refused_before_deploying(no_deploy, stacks, capsys):
    stack = stacks("small", "config:\n  aws:region: us-west-2\n  stepworks:pipelines: [greeting]\n")
    assert cli.main(["run", "radar", "--stack", stack]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "'radar' is not enabled in stack 'small'" in line and "enabled in stack 'small': greeting" in line


def test_enabled_pipelines_are_the_programs_validated_list(stacks):
    assert environment.enabled_pipelines(stacks("one", "config:\n  stepworks:pipelines: [radar]\n")) == ["radar"]
    assert environment.enabled_pipelines(stacks("unset", "config:\n  aws:region: us-west-2\n")) == list(WORKFLOWS)
    # Not guessed: a value the program refuses is the program's error, not "every pipeline".
    with pytest.raises(program.ProgramError, match="stepworks:pipelines"):
        environment.enabled_pipelines(stacks("text", "config:\n  stepworks:pipelines: greeting\n"))
    try:
        assert environment.enabled_pipelines(stacks("none", "config:\n  stepworks:pipelines: []\n")) == []
    except program.ProgramError as exc:  # an empty list may be a config error
        assert "stepworks:pipelines" in str(exc)


def test_demo_with_no_pipelines_enabled_says_so_without_a_key_error(no_deploy, stacks, capsys):
    stack = stacks("empty", "config:\n  aws:region: us-west-2\n  stepworks:pipelines: []\n")
    assert cli.main(["demo", "--stack", stack]) in (1, 2)
    line = one_error_line(capsys.readouterr().err)
    assert "stepworks:pipelines" in line and "KeyError" not in line


def test_demo_reports_a_pipeline_without_a_scenario_as_a_row(fake_sandbox, monkeypatch, capsys):
    monkeypatch.setattr(scenarios, "SCENARIOS", {})
    assert cli.main(["demo"]) == 1
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("greeting")]
    assert "NO SCENARIO" in row


# -- --stack, --help ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_stack_is_accepted_before_and_after_every_subcommand(command):
    parser = cli.build_parser()
    argv = COMMANDS[command]
    assert parser.parse_args(argv).stack == "dev"
    assert parser.parse_args(["--stack", "prod", *argv]).stack == "prod"
    assert parser.parse_args([*argv, "--stack", "prod"]).stack == "prod"
    assert parser.parse_args(["--stack", "prod", *argv, "--stack", "qa"]).stack == "qa"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_names_a_missing_stack_file_in_one_line(no_deploy, tmp_path, capsys, command):
    argv = [arg.replace("OUT", str(tmp_path / "out")) for arg in COMMANDS[command]]
    assert cli.main([*argv, "--stack", "nosuch"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == "error: Pulumi.nosuch.yaml does not exist (stack 'nosuch' has no configuration); stacks: dev"


@pytest.mark.parametrize("stack", ["../dev", "", "a/b", "dé"])
def test_a_stack_that_is_not_a_stack_name_is_refused(no_deploy, capsys, stack):
    assert cli.main(["run", "greeting", "--stack", stack]) == 2
    assert "is not a stack name" in one_error_line(capsys.readouterr().err)


def test_run_help_lists_every_pipeline_with_an_example_input(capsys):
    assert set(scenarios.EXAMPLE_INPUTS) | set(FILE_PIPELINES) == set(WORKFLOWS)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name, example in scenarios.EXAMPLE_INPUTS.items():
        json.loads(example)
        assert any(line.split() == [name, *example.split()] for line in out.splitlines()), (name, out)
    for name in set(FILE_PIPELINES) - set(scenarios.EXAMPLE_INPUTS):
        assert any(line.split() == [name, "--file", "sales.json"] for line in out.splitlines()), (name, out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "greeting", "--file", "x.json"], "--file: pipeline 'greeting' is not started by an upload"),
        (["run", "uploads", "--file", "no-such-file.json"], "--file no-such-file.json: no such file"),
        (["run", "uploads", "--file", "."], "--file: name a file"),
        (["run", "uploads", "--file", "tests"], "--file tests: is not a regular file"),
        (["run", "uploads", "--file", "README.md", "--input", "{}"], "--file and --input: give one"),
    ],
)
def test_a_bad_file_to_upload_is_a_usage_error_before_anything_deploys(no_deploy, capsys, argv, message):
    assert cli.main(argv) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"error: {message}")


# -- stack files and program errors ---------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_reports_a_program_error_in_one_line(no_deploy, tmp_path, monkeypatch, capsys, command):
    def broken(stack):
        raise program.ProgramError(f"Pulumi.{stack}.yaml, line 3, column 7:\n  mapping values are not allowed here")

    monkeypatch.setattr(program, "load_stack_file", broken)
    argv = [arg.replace("OUT", str(tmp_path / "out")) for arg in COMMANDS[command]]
    assert cli.main(argv) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line == "error: Pulumi.dev.yaml, line 3, column 7: mapping values are not allowed here"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_reports_a_malformed_stack_file_in_one_line(no_deploy, stacks, tmp_path, capsys, command):
    stack = stacks("broken", "config:\n  aws:region: us-west-2\n  stepworks:tags: {owner: [\n")
    argv = [arg.replace("OUT", str(tmp_path / "out")) for arg in COMMANDS[command]]
    assert cli.main([*argv, "--stack", stack]) in (1, 2)
    line = one_error_line(capsys.readouterr().err)
    assert "Pulumi.broken.yaml" in line and "line" in line


# -- synth --out ----------------------------------------------------------------------------------


def test_synth_onto_an_existing_file_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(synth_command, "recorded_program", lambda stack: pytest.fail("ran the program"))
    target = tmp_path / "out.json"
    target.write_text("keep me")
    assert cli.main(["synth", "--out", str(target)]) == 2
    assert one_error_line(capsys.readouterr().err) == f"error: --out {target}: is a file, not a directory"
    assert cli.main(["docs", "--out", str(target / "docs")]) == 2
    assert "is under" in one_error_line(capsys.readouterr().err)
    assert target.read_text() == "keep me"
    assert cli.main(["synth", "--out", ""]) == 2
    assert one_error_line(capsys.readouterr().err) == "error: --out: name a directory"


# -- STEPWORKS_DATABASE_URL -----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["localhost:5432", "mysql://u:p@db/x", "postgresql://u:p@127.0.0.1:port/db"])
def test_a_malformed_database_url_names_the_variable_before_deploying(no_deploy, monkeypatch, capsys, url):
    monkeypatch.setenv(URL_ENV, url)
    for argv in (["run", "incidents"], ["demo"]):
        assert cli.main(argv) == 2
        line = one_error_line(capsys.readouterr().err)
        assert line.startswith(f"error: {URL_ENV}: ") and ":p@" not in line  # the password is masked


def test_a_database_url_no_server_answers_names_the_variable(monkeypatch):
    monkeypatch.setenv(URL_ENV, "postgresql://u:secret@127.0.0.1:1/db")
    with pytest.raises(DatabaseUrlError, match=rf"^{URL_ENV}: cannot connect to 127.0.0.1:1 as u: ") as raised:
        check_database_url()
    assert "secret" not in str(raised.value)
    # The sandbox asks before it relies on the server (the RDS instance translator provisions it).
    with pytest.raises(DatabaseUrlError, match=URL_ENV):
        environment.ReportingFleet(lambda message: None).provision("sw-dev-incidents", "incidents", "admin")


# -- the safety net -------------------------------------------------------------------------------


def test_ctrl_c_is_interrupted_and_exit_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(sandbox_command, "cmd_run", interrupted)
    monkeypatch.setattr(sandbox_command, "cmd_demo", interrupted)
    assert cli.main(["run", "greeting"]) == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert cli.main(["demo"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_only_the_first_ctrl_c_interrupts_the_second_waits_for_the_teardown(capsys):
    handler = sandbox_command._FirstInterruptOnly()
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGINT, None)
    handler(signal.SIGINT, None)  # while the sandbox stops: no second KeyboardInterrupt
    assert "still tearing the sandbox down" in capsys.readouterr().err
    before = signal.getsignal(signal.SIGINT)
    with sandbox_command._one_interrupt():
        assert isinstance(signal.getsignal(signal.SIGINT), sandbox_command._FirstInterruptOnly)
    assert signal.getsignal(signal.SIGINT) is before


def test_python_m_infra_exits_2_with_one_line_for_deep_nesting():
    nested = "[" * 50_000 + "]" * 50_000  # a command-line argument is limited to 128 KiB
    done = subprocess.run(
        [sys.executable, "-m", "infra", "run", "greeting", "--input", nested],
        capture_output=True,
        text=True,
        cwd=program.PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: --input: nested deeper than") and len(done.stderr.splitlines()) == 1


def test_an_unexpected_error_is_one_line_and_exit_1(monkeypatch, capsys):
    def broken(args):
        raise ValueError("something\nunexpected")

    monkeypatch.setattr(synth_command, "cmd_synth", broken)
    monkeypatch.delenv("STEPWORKS_DEBUG", raising=False)
    assert cli.main(["synth", "--out", "x"]) == 1
    assert capsys.readouterr().err == (
        "error: ValueError: something unexpected (re-run with STEPWORKS_DEBUG=1 for the traceback)\n"
    )
    monkeypatch.setenv("STEPWORKS_DEBUG", "1")
    with pytest.raises(ValueError, match="something"):
        cli.main(["synth", "--out", "x"])


def test_a_closed_pipe_is_quiet(monkeypatch, capsys):
    def closed(args):
        raise BrokenPipeError

    monkeypatch.setattr(synth_command, "cmd_synth", closed)
    assert cli.main(["synth", "--out", "x"]) == 141
    assert capsys.readouterr().err == ""
