"""Every state machine's role grants exactly what its rendered definition uses (read from the ASL alone)."""

import json

import pytest

from infra import access
from infra.sandbox.mocks import ACCOUNT_ID, REGION, RecordingMocks
from infra.sandbox.program import load_stack_file, run_program

VARIANTS = {
    "dev": {},
    # radar alone: the variant changes nothing of the other pipelines.
    "radar reads its registry from a provider": {
        "stepworks:pipelines": ["radar"],
        "stepworks:radar": {"providerUrl": "https://registry.example.com/orgs"},
    },
}
# Machines each variant declares: six pipelines and the routers of uploads and release-approval; radar's.
MACHINES = {"dev": 8, "radar reads its registry from a provider": 1}


def encrypted_resources(program) -> dict[str, str]:
    return access.encrypted_resources(program.resources)


def machines_with_policies(program):
    roles = {r.outputs["arn"]: r.id for r in program.of_type("aws:iam/role:Role")}
    policies = {
        p.inputs["role"]: json.loads(p.inputs["policy"]) for p in program.of_type("aws:iam/rolePolicy:RolePolicy")
    }
    for machine in program.of_type("aws:sfn/stateMachine:StateMachine"):
        yield machine.name, json.loads(machine.inputs["definition"]), policies[roles[machine.inputs["roleArn"]]]


@pytest.fixture(scope="module", params=list(VARIANTS))
def program(request):
    if not VARIANTS[request.param]:
        return request.param, request.getfixturevalue("dev_program")
    config = {**load_stack_file("dev"), **VARIANTS[request.param]}
    return request.param, run_program(RecordingMocks(), config, stack="dev")


def test_every_state_machine_role_grants_exactly_what_its_states_use(program):
    variant, program = program
    encrypted = encrypted_resources(program)
    checked = 0
    for name, definition, policy in machines_with_policies(program):
        assert access.compare(definition, policy, REGION, ACCOUNT_ID, encrypted) == [], name
        checked += 1
    assert checked == MACHINES[variant]


def greeting_parts(dev_program):
    (found,) = [m for m in machines_with_policies(dev_program) if m[0] == "greeting-sfn"]
    return found[1], found[2], encrypted_resources(dev_program)


def test_a_state_whose_resource_is_not_granted_is_reported(dev_program):
    definition, policy, encrypted = greeting_parts(dev_program)
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "TableWrite"]
    problems = access.compare(definition, policy, REGION, ACCOUNT_ID, encrypted)
    assert problems == [
        f"InsertDynamoDBRecord: needs dynamodb:PutItem on {next(iter(_tables(dev_program)))}, "
        "which the role does not grant"
    ]


def test_a_grant_no_state_uses_is_reported(dev_program):
    definition, policy, encrypted = greeting_parts(dev_program)
    policy["Statement"].append(
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": ["arn:aws:sns:us-west-2:1:t"]}
    )
    problems = access.compare(definition, policy, REGION, ACCOUNT_ID, encrypted)
    assert problems == ["the role grants sns:Publish on arn:aws:sns:us-west-2:1:t, which no state uses"]


def test_a_put_into_an_encrypted_table_without_its_key_is_reported(dev_program):
    definition, policy, encrypted = greeting_parts(dev_program)
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "TableWriteKey"]
    problems = access.compare(definition, policy, REGION, ACCOUNT_ID, encrypted)
    assert {p.split(" on ")[0] for p in problems} == {
        f"InsertDynamoDBRecord: needs kms:{action}"
        for action in ("Decrypt", "DescribeKey", "Encrypt", "GenerateDataKey")
    }


def test_a_resource_taken_from_the_state_cannot_be_scoped_and_is_reported():
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName.$": "$.t"},
                "End": True,
            },
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "b", "Key.$": "$.key"},
                "End": True,
            },
        },
    }
    problems = access.compare(definition, {"Statement": []}, REGION, ACCOUNT_ID)
    assert problems == [
        "Put: TableName is taken from the state; a role cannot be scoped to it",
        "Read: Key must be fixed or States.Format('<prefix>{}', $.path); got '$.key'",
    ]


def test_needs_are_read_from_nested_parallel_and_map_states_and_every_integration():
    states = {
        "Get": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "b", "Key.$": "States.Format('in/{}', $.name)"},
            "End": True,
        },
        "Copy": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:copyObject",
            "Parameters": {"Bucket": "out", "Key": "x.json", "CopySource.$": "States.Format('b/in/{}', $.name)"},
            "End": True,
        },
    }
    definition = {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "Get", "States": states}], "End": True},
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Q",
                    "States": {
                        "Q": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:dynamodb:query",
                            "Parameters": {"TableName": "t", "IndexName": "byDate"},
                            "End": True,
                        },
                        "Wait": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                            "Parameters": {"FunctionName": "arn:f", "Payload": {"token.$": "$$.Task.Token"}},
                            "End": True,
                        },
                    },
                },
                "End": True,
            },
        },
    }
    report = access.definition_needs(definition, REGION, ACCOUNT_ID)
    assert report.problems == []
    assert {(n.action, n.resource) for n in report.needs} == {
        ("s3:GetObject", "arn:aws:s3:::b/in/*"),
        ("s3:PutObject", "arn:aws:s3:::out/x.json"),
        ("dynamodb:Query", f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/t/index/byDate"),
        ("lambda:InvokeFunction", "arn:f"),
    }


def _tables(program):
    return [t.outputs["arn"] for t in program.of_type("aws:dynamodb/table:Table") if t.name == "greeting-table"]
