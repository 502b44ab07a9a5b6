"""greeting, end to end: POST /greetings on the loopback API → execution → one DynamoDB item."""

import datetime
import uuid

import pytest

# Only this pipeline is deployed (tests/e2e/conftest.py).
DEPLOYED = ["greeting"]


@pytest.fixture
def table(sandbox):
    name = sandbox.outputs("greeting")["tableName"]
    ddb = sandbox.client("dynamodb")

    def items():
        return ddb.scan(TableName=name)["Items"]

    for item in items():  # each test starts from an empty table
        ddb.delete_item(TableName=name, Key={"id": item["id"]})
    return items


def test_a_signed_post_writes_exactly_one_item_with_uuid_timestamp_and_message(sandbox, table):
    response = sandbox.call_route("greeting", {"message": "Hello step function"})
    assert response.status_code == 200, response.text
    result = sandbox.wait(response.json()["executionArn"])
    assert result.status == "SUCCEEDED", result.cause_text()
    (item,) = table()
    assert str(uuid.UUID(item["id"]["S"])) == item["id"]["S"]
    timestamp = datetime.datetime.fromisoformat(item["Timestamp"]["S"].replace("Z", "+00:00"))
    assert abs(datetime.datetime.now(datetime.UTC) - timestamp) < datetime.timedelta(minutes=5)
    assert item["Message"]["S"] == "Hello step function"
    entered = [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]
    assert entered == ["InvokeLambda", "FormatDynamoDBRecord", "InsertDynamoDBRecord"]


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        ('{"note": "no message"}', "InvalidInputError: note: is not a known field; allowed: message"),
        ("{}", "InvalidInputError: message: is required"),
        ('{"message": 17}', "InvalidInputError: message: must be a string, got number 17"),
        (
            '{"message": "' + "x" * 1_001 + '"}',
            "InvalidInputError: message: must be at most 1000 characters, got 1,001",
        ),
        ("", "InvalidInputError: message: is required"),
    ],
)
def test_bad_messages_fail_the_execution_naming_the_problem_and_write_nothing(sandbox, table, body, cause):
    response = sandbox.call_route("greeting", body)
    assert response.status_code == 200, response.text
    result = sandbox.wait(response.json()["executionArn"])
    assert result.status == "FAILED"
    assert result.error == "InvalidInputError"
    assert result.cause_text() == cause
    # A non-retryable error is not retried: one invocation only.
    assert sum(1 for e in result.history if e["type"] == "TaskScheduled") == 1
    assert table() == []


def test_a_body_that_is_not_json_is_refused_with_400_and_starts_nothing(sandbox, table):
    sfn = sandbox.client("stepfunctions")
    machine = sandbox.outputs("greeting")["stateMachineArn"]
    before = len(sfn.list_executions(stateMachineArn=machine)["executions"])
    response = sandbox.call_route("greeting", "{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == before
    assert table() == []


def test_an_unsigned_request_is_forbidden_by_the_routes_iam_authorization(sandbox, table):
    response = sandbox.call_route("greeting", {"message": "hi"}, sign=False)
    assert response.status_code == 403
    assert "SigV4" in response.json()["message"]
    assert table() == []


def test_a_request_signed_with_other_credentials_is_forbidden(sandbox, table):
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = sandbox.route_url(sandbox.outputs("greeting")["apiUrl"])
    request = AWSRequest(
        method="POST", url=url, data=b'{"message": "hi"}', headers={"Content-Type": "application/json"}
    )
    # The sandbox's own key id (its operator's), with a secret that is not the key's.
    forged = Credentials(sandbox.iam.operator.access_key, "wrong-secret")
    SigV4Auth(forged, "execute-api", sandbox.region).add_auth(request)
    response = requests.post(url, data=b'{"message": "hi"}', headers=dict(request.headers.items()), timeout=10)
    assert response.status_code == 403
    assert response.json()["message"] == "Forbidden: signature does not match"
    assert table() == []


def test_the_function_logs_land_in_its_own_log_group_as_json(sandbox, table):
    sandbox.wait(sandbox.call_route("greeting", {"message": "log me"}).json()["executionArn"])
    events = sandbox.client("logs").filter_log_events(logGroupName="/aws/lambda/sw-dev-greeting-hello")["events"]
    assert any('"service":"greeting"' in e["message"] and '"message_length":6' in e["message"] for e in events)
