"""Pulumi.<stack>.yaml as the sandbox and the CLI read it: a missing, malformed or mis-shaped file
is a StackFileError (a ProgramError, which the CLI prints as one line) naming the file, never an
empty config followed by a confusing "Missing required configuration variable 'aws:region'"."""

from __future__ import annotations

import pytest

from infra.sandbox import program
from infra.sandbox.program import ProgramError, StackFileError, existing_stacks, load_stack_file, stack_config_file


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project directory standing in for the repository root."""
    monkeypatch.setattr(program, "PROJECT_ROOT", tmp_path)
    (tmp_path / "Pulumi.yaml").write_text("name: stepworks\nruntime: python\n")
    return tmp_path


def write(project, stack, text):
    (project / f"Pulumi.{stack}.yaml").write_text(text)


def error_of(stack):
    with pytest.raises(StackFileError) as raised:
        load_stack_file(stack)
    assert isinstance(raised.value, ProgramError)  # the CLI's `except ProgramError` prints it
    assert "\n" not in str(raised.value)
    return str(raised.value)


def test_the_dev_stack_file_loads():
    config = load_stack_file("dev")
    assert config["aws:region"] == "us-west-2"
    assert "dev" in existing_stacks()


def test_a_missing_stack_file_says_so_and_lists_the_stacks_that_exist(project):
    write(project, "dev", "config:\n  aws:region: us-west-2\n")
    write(project, "prod", "config:\n  aws:region: us-east-1\n")
    assert error_of("nosuch") == (
        "Pulumi.nosuch.yaml does not exist (stack 'nosuch' has no configuration); stacks: dev, prod"
    )


def test_a_missing_stack_file_in_a_project_without_stacks(project):
    assert error_of("dev").endswith("stacks: none")


def test_a_yaml_syntax_error_names_the_file_line_and_column(project):
    write(project, "dev", "config:\n  aws:region: us-west-2\n  stepworks:tags: {owner: [x\n")
    message = error_of("dev")
    assert message.startswith("Pulumi.dev.yaml, line 4, column 1: YAML syntax error: ")


def test_a_bad_indentation_names_its_line(project):
    write(project, "dev", "config:\n  aws:region: us-west-2\n stepworks:logLevel: INFO\n")
    assert error_of("dev").startswith("Pulumi.dev.yaml, line 3, column ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- aws:region\n", "Pulumi.dev.yaml: the top level must be a mapping (config: …), not a list"),
        ("just text\n", "Pulumi.dev.yaml: the top level must be a mapping (config: …), not a string"),
        ("config: [1, 2]\n", "Pulumi.dev.yaml: config: must be a mapping of namespace:key settings, not a list"),
        ("config: us-west-2\n", "Pulumi.dev.yaml: config: must be a mapping of namespace:key settings, not a string"),
        ("config:\n  region: us-west-2\n", "Pulumi.dev.yaml: config key 'region' is not of the form namespace:key"),
    ],
)
def test_a_file_that_is_not_a_stack_file_says_what_is_wrong(project, text, message):
    write(project, "dev", text)
    assert error_of("dev").startswith(message)


def test_an_empty_file_or_config_is_an_empty_config(project):
    write(project, "a", "")
    write(project, "b", "config:\n")
    assert load_stack_file("a") == {} and load_stack_file("b") == {}


@pytest.mark.parametrize("stack", ["../etc/passwd", "a/b", "", "-x", "a b"])
def test_a_stack_name_that_is_not_one_is_refused_before_any_path_is_built(project, stack):
    with pytest.raises(StackFileError, match="is not a stack name"):
        stack_config_file(stack)


def test_the_cli_prints_one_line_for_a_missing_stack(capsys):
    from infra.cli import main

    assert main(["--stack", "nosuch", "synth", "--out", "/nonexistent/never-written"]) == 2  # a usage error
    err = capsys.readouterr().err
    assert err.startswith("error: Pulumi.nosuch.yaml does not exist")
    assert "stacks: dev" in err
    assert "Traceback" not in err and "aws:region" not in err
