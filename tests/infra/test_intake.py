"""Every state machine the program declares starts with the shared intake (infra.integrations.validate_input).

The intake is what turns any execution input — null, an array, an unknown key, a field too large
to travel on — into one InvalidInputError naming the field (pipelines/common/inputs.py). A new
pipeline inherits the rule: its definition fails this test until its first state is an intake.
"""

import ast
import importlib.util
import json
from pathlib import Path

from infra import asl
from infra.source_ast import parse
from infra.workflows import WORKFLOWS

# A trigger's router (uploads' ``-start`` machine) is not a pipeline's entry point: only its
# EventBridge rule starts it, with the S3 event its pattern matched, and it hands that event on
# verbatim to the pipeline's machine, whose intake checks it. Nothing a caller sends reaches it.
ROUTER_SUFFIX = "-start"


def machines(program):
    return {
        m.inputs["tags"]["pipeline"]: (m, json.loads(m.inputs["definition"]))
        for m in program.of_type("aws:sfn/stateMachine:StateMachine")
        if not m.inputs["name"].endswith(ROUTER_SUFFIX)
    }


def test_the_only_machines_without_an_intake_are_routers_that_hand_the_event_on_verbatim(dev_program):
    routers = [
        m for m in dev_program.of_type("aws:sfn/stateMachine:StateMachine") if m.inputs["name"].endswith("-start")
    ]
    assert sorted(m.inputs["name"] for m in routers) == ["sw-dev-release-approval-start", "sw-dev-uploads-start"]
    for router in routers:
        definition = json.loads(router.inputs["definition"])
        start = definition["States"][definition["StartAt"]]
        assert start["Resource"] == "arn:aws:states:::states:startExecution"
        assert start["Parameters"]["Input.$"] == "$"
        pipeline = router.inputs["tags"]["pipeline"]
        target, _ = machines(dev_program)[pipeline]
        assert start["Parameters"]["StateMachineArn"] == target.outputs["arn"]


def handler_of(program, function_arn):
    (fn,) = [f for f in program.of_type("aws:lambda/function:Function") if f.outputs["arn"] == function_arn]
    return fn.inputs["handler"]


def test_every_pipeline_is_declared_with_a_state_machine(dev_program):
    assert set(machines(dev_program)) == set(WORKFLOWS)


def test_every_state_machine_starts_by_handing_the_input_verbatim_to_its_intake(dev_program):
    for pipeline, (_, definition) in machines(dev_program).items():
        first = definition["States"][definition["StartAt"]]
        assert first["Type"] == "Task" and first["Resource"] == "arn:aws:states:::lambda:invoke", pipeline
        # Nothing added to the input: whatever StartExecution accepted fits the first state.
        assert first["Parameters"]["Payload.$"] == "$", pipeline
        assert set(first["Parameters"]) == {"FunctionName", "Payload.$"}, pipeline
        # Its failure replaces the state, so the Catch can write it whatever the input was.
        assert first["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$", "Next": asl.INPUT_REJECTED}]
        rejected = definition["States"][asl.INPUT_REJECTED]
        assert (rejected["Type"], rejected["ErrorPath"], rejected["CausePath"]) == ("Fail", "$.Error", "$.Cause")
        # Bad input is never retried.
        assert all("InvalidInputError" not in rule["ErrorEquals"] for rule in first["Retry"]), pipeline


def test_every_intake_function_checks_the_input_with_the_shared_checks_first(dev_program):
    for pipeline, (_, definition) in machines(dev_program).items():
        first = definition["States"][definition["StartAt"]]
        module, _, function = handler_of(dev_program, first["Parameters"]["FunctionName"]).rpartition(".")
        # The handler, or the module it validates with, calls checked_request.
        source_modules = [module, *_imported_pipeline_modules(module)]
        assert any("checked_request" in _calls(m) for m in source_modules), f"{pipeline}: {module}.{function}"


def _tree(module: str) -> ast.Module:
    path = Path(importlib.util.find_spec(module).origin)
    return parse(path.read_text(), str(path))


def _imported_pipeline_modules(module: str) -> list[str]:
    imports = (node for node in ast.walk(_tree(module)) if isinstance(node, ast.ImportFrom))
    return [node.module for node in imports if (node.module or "").startswith("pipelines.")]


def _calls(module: str) -> set[str]:
    calls = (node for node in ast.walk(_tree(module)) if isinstance(node, ast.Call))
    return {node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "") for node in calls}
