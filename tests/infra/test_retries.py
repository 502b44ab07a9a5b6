"""Retry lists are each pipeline's own: exactly the retryable errors its handlers can raise, plus Lambda's."""

import json
import sys
import textwrap

import pytest

from infra import asl
from infra.handler_errors import retryable_errors
from infra.workflows import WORKFLOWS


def lambda_tasks(definition):
    """(state name, state) of every Lambda task, at any depth."""
    for name, state in definition["States"].items():
        if state.get("Type") == "Task" and ":lambda:invoke" in state["Resource"]:
            yield name, state
        for inner in [*state.get("Branches", []), *([state["ItemProcessor"]] if "ItemProcessor" in state else [])]:
            yield from lambda_tasks(inner)


def handlers_of(program, pipeline):
    return {
        f.outputs["arn"]: f.inputs["handler"]
        for f in program.of_type("aws:lambda/function:Function")
        if (f.inputs.get("tags") or {}).get("pipeline") == pipeline
    }


def route_functions(program):
    """Functions an HTTP API route invokes (a Lambda proxy integration): API Gateway calls them, no state does."""
    return {i.inputs.get("integrationUri") for i in program.of_type("aws:apigatewayv2/integration:Integration")} - {
        None
    }


@pytest.mark.parametrize("pipeline", list(WORKFLOWS))
def test_a_pipeline_retries_exactly_what_its_own_handlers_can_raise(dev_program, pipeline):
    # The state machine invokes every function of the pipeline but those an API route calls.
    routed = route_functions(dev_program)
    handlers = {arn: h for arn, h in handlers_of(dev_program, pipeline).items() if arn not in routed}
    reachable = set().union(*(retryable_errors(h) for h in handlers.values()))
    declared = set(WORKFLOWS[pipeline].RETRYABLE_ERRORS)
    assert declared == reachable, f"{pipeline}: declare {sorted(reachable)} (not {sorted(declared)})"
    (machine,) = [
        m for m in dev_program.of_type("aws:sfn/stateMachine:StateMachine") if m.inputs["name"] == f"sw-dev-{pipeline}"
    ]
    tasks = list(lambda_tasks(json.loads(machine.inputs["definition"])))
    assert {state["Parameters"]["FunctionName"] for _, state in tasks} == set(handlers)
    for name, state in tasks:
        (rule,) = state["Retry"]
        assert rule["ErrorEquals"] == [*asl.LAMBDA_TRANSIENT_ERRORS, *sorted(declared)], name


def test_no_pipeline_retries_another_pipelines_errors():
    # The defect this replaced: greeting retried incidents' DatabaseUnavailableError.
    assert "DatabaseUnavailableError" not in WORKFLOWS["greeting"].RETRYABLE_ERRORS
    assert "DatabaseUnavailableError" not in WORKFLOWS["radar"].RETRYABLE_ERRORS
    assert retryable_errors("pipelines.incidents.handlers.validate") == {"DatabaseUnavailableError"}


def test_error_names_accepts_only_retryable_error_classes():
    from pipelines.common.errors import InvalidInputError, UpstreamUnavailableError

    assert asl.error_names(UpstreamUnavailableError) == ("UpstreamUnavailableError",)
    with pytest.raises(TypeError, match="is not a RetryableError"):
        asl.error_names(InvalidInputError)


@pytest.fixture
def sample_package(tmp_path, monkeypatch):
    """A throwaway package whose handlers reach errors in every way the analysis follows."""
    root = tmp_path / "sample_pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    files = {
        "errors.py": """
            from pipelines.common.errors import RetryableError

            class ViaHelper(RetryableError): pass
            class ViaMethod(RetryableError): pass
            class ViaSelf(RetryableError): pass
            class ViaCallback(RetryableError): pass
            class OnlyImported(RetryableError): pass
        """,
        "helpers.py": """
            from sample_pkg.errors import ViaHelper, ViaMethod, ViaSelf

            def helper():
                raise ViaHelper("x")

            class Client:
                def call(self):
                    self._inner()

                def _inner(self):
                    raise ViaSelf("y")

                def other(self):
                    raise ViaMethod("z")
        """,
        "handlers.py": """
            from sample_pkg import helpers
            from sample_pkg.errors import OnlyImported, ViaCallback  # noqa: F401 - imported, never raised here

            def _on_error():
                raise ViaCallback("c")

            def with_helper(event, context):
                helpers.helper()

            def with_client(event, context):
                helpers.Client().call()

            def with_callback(event, context):
                return run(_on_error)

            def run(callback):
                return callback

            def plain(event, context):
                return {}
        """,
    }
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "sample_pkg"
    for module in [m for m in sys.modules if m.startswith("sample_pkg")]:
        del sys.modules[module]


def test_the_analysis_follows_helpers_classes_self_and_callbacks_but_not_mere_imports(sample_package):
    def errors(handler):
        return retryable_errors(f"{sample_package}.handlers.{handler}", package=sample_package)

    assert errors("with_helper") == {"ViaHelper"}
    # A class brings every method it has (a method called on an instance cannot be told apart).
    assert errors("with_client") == {"ViaSelf", "ViaMethod"}
    assert errors("with_callback") == {"ViaCallback"}
    assert errors("plain") == frozenset()
