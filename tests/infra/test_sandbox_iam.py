"""IAM in the sandbox: functions, state machines and triggers run as their roles, and are denied as in AWS.

Each test declares a few resources through the sandbox's translators (as the program would) and
runs them: a missing grant, a grant on the wrong resource or a trust policy the assuming service
does not satisfy fails; the same thing with the right grant or trust succeeds (so every refusal
is the sandbox's IAM at work, not a broken fixture).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import uuid

import pulumi
import pytest
from botocore.exceptions import ClientError

from infra.sandbox import iam, iam_emulation
from infra.sandbox.core import Sandbox
from infra.sandbox.http_api import HttpApiServer
from infra.sandbox.mocks import ACCOUNT_ID, DeclaredResource, EmulatorMocks
from infra.sandbox.translators import TRANSLATORS, RoleNotAssumable
from pipelines.common.aws import client
from tests.infra.policy_documents import allow, trust

REGION = "us-west-2"
HANDLERS = __name__  # the handlers below run as the functions' code


# --- function code ---------------------------------------------------------------------------------


def put_item(event, context):
    """Write one item into ``event["table"]`` with the function's own credentials."""
    client("dynamodb").put_item(TableName=event["table"], Item={"id": {"S": event.get("id", "1")}})
    return {"written": event["table"], "as": client("sts").get_caller_identity()["Arn"]}


def read_secret(event, context):
    """Read a secret by the id the event gives (a name or an ARN)."""
    return client("secretsmanager").get_secret_value(SecretId=event["secret"])["SecretString"]


# --- declaring resources ------------------------------------------------------------------------------


class Declared:
    """Resources declared through the translators, named uniquely per test."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.mocks = EmulatorMocks(TRANSLATORS, region=REGION, clients=sandbox.client)
        self.suffix = uuid.uuid4().hex[:8]

    def name(self, base: str) -> str:
        return f"{base}-{self.suffix}"

    def declare(self, typ: str, logical: str, /, **inputs) -> dict:
        return self.mocks.create(DeclaredResource(typ, self.name(logical), inputs))[1]

    def role(self, base: str, assume_role_policy: str, *policies: str, path: str = "/sw-test/") -> str:
        name = self.name(base)
        arn = self.declare("aws:iam/role:Role", base, name=name, assumeRolePolicy=assume_role_policy, path=path)["arn"]
        for index, policy in enumerate(policies):
            self.grant(name, policy, f"p{index}")
        return arn

    def grant(self, role_name: str, policy: str, policy_name: str = "granted") -> None:
        self.sandbox.client("iam").put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy)

    def table(self, base: str) -> dict:
        return self.declare(
            "aws:dynamodb/table:Table",
            base,
            name=self.name(base),
            hashKey="id",
            attributes=[{"name": "id", "type": "S"}],
        )

    def function(self, base: str, role_arn: str, handler: str) -> dict:
        name = self.name(base)
        self.declare("aws:cloudwatch/logGroup:LogGroup", f"{base}-logs", name=f"/aws/lambda/{name}")
        return self.declare(
            "aws:lambda/function:Function",
            base,
            name=name,
            runtime="python3.11",
            role=role_arn,
            handler=f"{HANDLERS}.{handler}",
            code=pulumi.AssetArchive({}),
        )

    def invoke(self, function_name: str, event: dict) -> tuple[bool, dict | str]:
        """(errored, payload) of a synchronous invocation by the operator."""
        answer = self.sandbox.client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        return "FunctionError" in answer, json.loads(answer["Payload"].read())


@pytest.fixture(scope="module")
def sandbox():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with Sandbox() as running:
        yield running


@pytest.fixture
def declared(sandbox):
    return Declared(sandbox)


LAMBDA_TRUST = trust("lambda.amazonaws.com", StringEquals={"aws:SourceAccount": ACCOUNT_ID})


# --- functions -------------------------------------------------------------------------------------------


def test_a_function_without_the_grant_is_denied_naming_the_action_and_succeeds_once_granted(declared):
    table = declared.table("items")
    role = declared.role("writer", LAMBDA_TRUST)
    fn = declared.function("writer", role, "put_item")

    errored, payload = declared.invoke(fn["name"], {"table": table["name"]})

    assert errored
    assert "AccessDeniedException" in payload["errorMessage"]
    assert (
        f"assumed-role/{declared.name('writer')}/{fn['name']} is not authorized to perform: dynamodb:PutItem"
        in (payload["errorMessage"])
    )
    assert f"on resource: {table['arn']}" in payload["errorMessage"]

    declared.grant(declared.name("writer"), allow("dynamodb:PutItem", table["arn"]))
    errored, payload = declared.invoke(fn["name"], {"table": table["name"]})

    assert not errored, payload
    assert payload["as"].endswith(f":assumed-role/{declared.name('writer')}/{fn['name']}")
    assert declared.sandbox.client("dynamodb").scan(TableName=table["name"])["Count"] == 1


def test_a_grant_on_another_table_is_denied_and_allows_only_that_table(declared):
    table, other = declared.table("mine"), declared.table("other")
    role = declared.role("scoped", LAMBDA_TRUST, allow("dynamodb:PutItem", other["arn"]))
    fn = declared.function("scoped", role, "put_item")

    errored, payload = declared.invoke(fn["name"], {"table": table["name"]})
    assert errored and f"dynamodb:PutItem on resource: {table['arn']}" in payload["errorMessage"]

    # By name or by ARN, the table named by the grant is the one allowed.
    assert declared.invoke(fn["name"], {"table": other["name"]})[0] is False
    assert declared.invoke(fn["name"], {"table": other["arn"], "id": "2"})[0] is False


def test_two_functions_in_one_process_never_share_credentials(declared):
    table = declared.table("shared")
    granted = declared.role("granted", LAMBDA_TRUST, allow("dynamodb:PutItem", table["arn"]))
    bare = declared.role("bare", LAMBDA_TRUST)
    first, second = declared.function("first", granted, "put_item"), declared.function("second", bare, "put_item")

    assert declared.invoke(first["name"], {"table": table["name"]})[0] is False
    # Were clients cached per service only, the second function would write with the first's role.
    errored, payload = declared.invoke(second["name"], {"table": table["name"]})
    assert errored and f"assumed-role/{declared.name('bare')}/" in payload["errorMessage"]


def test_a_role_trusted_to_another_service_is_refused_at_creation_and_at_invocation(declared, sandbox):
    role = declared.role("states-only", trust("states.amazonaws.com"))
    with pytest.raises(
        RoleNotAssumable, match=re.escape("The role defined for the function cannot be assumed by Lambda")
    ):
        declared.function("misplaced", role, "put_item")

    # Trust broken after creation: Lambda refuses the invocation itself, naming the role.
    table = declared.table("t")
    good = declared.role("later", LAMBDA_TRUST, allow("dynamodb:PutItem", table["arn"]))
    fn = declared.function("later", good, "put_item")
    sandbox.client("iam").update_assume_role_policy(
        RoleName=declared.name("later"), PolicyDocument=trust("states.amazonaws.com")
    )
    with pytest.raises(ClientError) as refused:
        declared.invoke(fn["name"], {"table": table["name"]})
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"cannot be assumed by Lambda: {good}" in refused.value.response["Error"]["Message"]


def test_a_lambda_trust_condition_on_source_arn_denies_because_lambda_does_not_set_it(declared):
    role = declared.role(
        "source-arn",
        trust("lambda.amazonaws.com", ArnLike={"aws:SourceArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:*"}),
    )
    with pytest.raises(RoleNotAssumable, match=re.escape("aws:SourceArn: the key is absent from the request context")):
        declared.function("source-arn", role, "put_item")


def test_a_secret_granted_by_its_full_arn_is_read_by_name_or_arn_and_another_is_not(declared, sandbox):
    secrets = sandbox.client("secretsmanager")
    mine = secrets.create_secret(Name=declared.name("token"), SecretString="s3cret")
    theirs = secrets.create_secret(Name=declared.name("theirs"), SecretString="other")
    role = declared.role("reader", LAMBDA_TRUST, allow("secretsmanager:GetSecretValue", mine["ARN"]))
    fn = declared.function("reader", role, "read_secret")

    assert declared.invoke(fn["name"], {"secret": mine["Name"]}) == (False, "s3cret")
    assert declared.invoke(fn["name"], {"secret": mine["ARN"]}) == (False, "s3cret")
    errored, payload = declared.invoke(fn["name"], {"secret": theirs["Name"]})
    assert errored and f"secretsmanager:GetSecretValue on resource: {theirs['ARN']}" in payload["errorMessage"]


def test_kms_decrypt_without_a_key_id_is_checked_against_the_key_the_ciphertext_names(declared, sandbox):
    kms = sandbox.client("kms")
    key = declared.declare("aws:kms/key:Key", "key", description="k")
    other = declared.declare("aws:kms/key:Key", "other", description="o")
    ciphertext = kms.encrypt(KeyId=key["arn"], Plaintext=b"payload")["CiphertextBlob"]
    role = declared.role("decrypter", LAMBDA_TRUST, allow("kms:Decrypt", key["arn"]))
    as_role = sandbox.iam.assume(role, iam.LAMBDA)

    assert sandbox.iam.client_for(as_role, "kms", REGION).decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"payload"

    sandbox.client("iam").put_role_policy(
        RoleName=declared.name("decrypter"), PolicyName="p0", PolicyDocument=allow("kms:Decrypt", other["arn"])
    )
    with pytest.raises(ClientError, match=re.escape(f"kms:Decrypt on resource: {key['arn']}")):
        sandbox.iam.client_for(as_role, "kms", REGION).decrypt(CiphertextBlob=ciphertext)


def test_s3_grants_stay_scoped_to_their_prefix(declared, sandbox):
    bucket = declared.declare("aws:s3/bucket:Bucket", "data", bucket=declared.name("data"))["bucket"]
    role = declared.role("s3", LAMBDA_TRUST, allow("s3:PutObject", f"arn:aws:s3:::{bucket}/staging/*"))
    s3 = sandbox.iam.client_for(sandbox.iam.assume(role, iam.LAMBDA), "s3", REGION)

    s3.put_object(Bucket=bucket, Key="staging/a.json", Body=b"{}")
    with pytest.raises(ClientError, match=re.escape("AccessDenied")):
        s3.put_object(Bucket=bucket, Key="final/a.json", Body=b"{}")


def echo(event, context):
    """Return the event."""
    return event


def _as_role(declared, base: str):
    """A client factory signing as a fresh role of ``base`` (Lambda's trust), and the role's name."""
    role = declared.role(base, LAMBDA_TRUST)
    credentials = declared.sandbox.iam.assume(role, iam.LAMBDA)
    return (lambda service: declared.sandbox.iam.client_for(credentials, service, REGION)), declared.name(base)


def _topic(declared):
    arn = declared.declare("aws:sns/topic:Topic", "topic", name=declared.name("topic"))["arn"]
    return arn, lambda c: c("sns").publish(TopicArn=arn, Message="m")


def _queue(declared):
    queue = declared.declare("aws:sqs/queue:Queue", "queue", name=declared.name("queue"))
    return queue["arn"], lambda c: c("sqs").send_message(QueueUrl=queue["url"], MessageBody="m")


def _index(declared):
    name = declared.name("indexed")
    declared.sandbox.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byG",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}/index/byG"
    query = {"IndexName": "byG", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "x"}}}
    return arn, lambda c: c("dynamodb").query(TableName=name, **query)


def _qualified_function(declared):
    fn = declared.function("echo", declared.role("echo-exec", LAMBDA_TRUST), "echo")
    return f"{fn['arn']}:$LATEST", lambda c: c("lambda").invoke(FunctionName=f"{fn['name']}:$LATEST", Payload=b"{}")


def _execution(declared):
    machine = _pass_machine(declared)
    execution = declared.sandbox.start(machine, {})
    return execution, lambda c: c("stepfunctions").describe_execution(executionArn=execution)


def _start(declared):
    machine = _pass_machine(declared)
    return machine, lambda c: c("stepfunctions").start_execution(stateMachineArn=machine, name=uuid.uuid4().hex)


def _log_stream(declared):
    group = declared.name("/aws/lambda/logged")
    declared.declare("aws:cloudwatch/logGroup:LogGroup", "logged", name=group)
    declared.sandbox.client("logs").create_log_stream(logGroupName=group, logStreamName="s")
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}:log-stream:s"
    events = [{"timestamp": 0, "message": "m"}]
    return arn, lambda c: c("logs").put_log_events(logGroupName=group, logStreamName="s", logEvents=events)


def _alias(declared):
    key = declared.declare("aws:kms/key:Key", "aliased")
    alias = f"alias/{declared.name('aliased')}"
    declared.declare("aws:kms/alias:Alias", "alias", name=alias, targetKeyId=key["arn"])
    return key["arn"], lambda c: c("kms").encrypt(KeyId=alias, Plaintext=b"p")


@pytest.mark.parametrize(
    ("action", "setup"),
    [
        ("sns:Publish", _topic),
        ("sqs:SendMessage", _queue),
        ("dynamodb:Query", _index),
        ("lambda:InvokeFunction", _qualified_function),
        ("states:DescribeExecution", _execution),
        ("states:StartExecution", _start),
        ("logs:PutLogEvents", _log_stream),
        ("kms:Encrypt", _alias),
    ],
)
def test_each_service_checks_the_resource_the_call_acts_on(declared, action, setup):
    resource, call = setup(declared)
    clients, role_name = _as_role(declared, "caller")
    with pytest.raises(ClientError) as denied:
        call(clients)
    assert action in str(denied.value)
    assert f"on resource: {resource}" in str(denied.value)

    # A grant in IAM's own pattern form for that resource (function versions, log streams, …).
    pattern = {"lambda:InvokeFunction": resource.rsplit(":", 1)[0] + ":*"}.get(action, resource)
    if action == "logs:PutLogEvents":
        pattern = resource.split(":log-stream:")[0] + ":*"
    declared.grant(role_name, allow(action.lower(), pattern))  # actions compare case-insensitively
    call(clients)


def test_a_batch_over_two_tables_needs_the_grant_on_both(declared):
    first, second = declared.table("first"), declared.table("second")
    clients, role_name = _as_role(declared, "batch")
    declared.grant(role_name, allow("dynamodb:BatchWriteItem", first["arn"]))
    batch = {t["name"]: [{"PutRequest": {"Item": {"id": {"S": t["name"]}}}}] for t in (first, second)}
    with pytest.raises(ClientError, match=re.escape(f"dynamodb:BatchWriteItem on resource: {second['arn']}")):
        clients("dynamodb").batch_write_item(RequestItems=batch)
    declared.grant(role_name, allow("dynamodb:BatchWriteItem", "arn:aws:dynamodb:*:*:table/*"), "all-tables")
    clients("dynamodb").batch_write_item(RequestItems=batch)


# --- state machines ------------------------------------------------------------------------------------------


def _put_item_machine(table_name: str) -> dict:
    return {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table_name, "Item": {"id": {"S.$": "$$.Execution.Name"}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def test_a_state_machine_role_without_put_item_fails_that_state_and_a_catch_all_catches_it(declared, sandbox):
    table = declared.table("sfn")
    name = declared.name("machine")
    source = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
    role = declared.role(
        "sfn",
        trust(
            "states.amazonaws.com", StringEquals={"aws:SourceAccount": ACCOUNT_ID}, ArnLike={"aws:SourceArn": source}
        ),
    )
    machine = declared.declare(
        "aws:sfn/stateMachine:StateMachine",
        "machine",
        name=name,
        roleArn=role,
        definition=json.dumps(_put_item_machine(table["name"])),
    )

    denied = sandbox.wait(sandbox.start(machine["arn"], {}))

    assert denied.status == "SUCCEEDED"  # through the Catch
    assert denied.output["error"]["Error"] == "DynamoDB.AccessDeniedException"
    assert (
        f"assumed-role/{declared.name('sfn')}/{name} is not authorized to perform: dynamodb:PutItem"
        in (denied.output["error"]["Cause"])
    )
    assert sandbox.client("dynamodb").scan(TableName=table["name"])["Count"] == 0

    declared.grant(declared.name("sfn"), allow("dynamodb:PutItem", table["arn"]))
    granted = sandbox.wait(sandbox.start(machine["arn"], {}))

    assert "error" not in granted.output
    assert sandbox.client("dynamodb").scan(TableName=table["name"])["Count"] == 1


def test_a_state_machine_role_step_functions_cannot_assume_is_refused_at_creation(declared):
    role = declared.role(
        "elsewhere",
        trust(
            "states.amazonaws.com", ArnLike={"aws:SourceArn": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:x"}
        ),
    )
    with pytest.raises(RoleNotAssumable, match=re.escape("states.amazonaws.com, nor the regional one")):
        declared.declare(
            "aws:sfn/stateMachine:StateMachine",
            "machine",
            name=declared.name("machine"),
            roleArn=role,
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )


# --- triggers -------------------------------------------------------------------------------------------------------


def _pass_machine(declared: Declared) -> str:
    role = declared.role("target", trust("states.amazonaws.com"))
    return declared.declare(
        "aws:sfn/stateMachine:StateMachine",
        "target",
        name=declared.name("target"),
        roleArn=role,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["arn"]


def test_an_http_api_whose_integration_role_requires_source_account_answers_500(declared, sandbox):
    machine = _pass_machine(declared)
    role = declared.role(
        "api-start",
        trust("apigateway.amazonaws.com", StringEquals={"aws:SourceAccount": ACCOUNT_ID}),
        allow("states:StartExecution", machine),
    )
    api = declared.declare("aws:apigatewayv2/api:Api", "api", protocolType="HTTP")
    api_id = api["apiEndpoint"].removeprefix("https://").split(".")[0]
    integration_id = declared.mocks.create(
        DeclaredResource(
            "aws:apigatewayv2/integration:Integration",
            declared.name("integration"),
            {
                "apiId": api_id,
                "integrationType": "AWS_PROXY",
                "integrationSubtype": "StepFunctions-StartExecution",
                "credentialsArn": role,
                "requestParameters": {
                    "StateMachineArn": machine,
                    "Input": "$request.body",
                    "Name": "$context.requestId",
                },
            },
        )
    )[0]
    declared.declare(
        "aws:apigatewayv2/route:Route",
        "route",
        apiId=api_id,
        routeKey="POST /go",
        target=f"integrations/{integration_id}",
        authorizationType="AWS_IAM",
    )
    server = HttpApiServer(REGION, sandbox.iam.operator, sandbox.iam).start()
    url = server.url_for(api_id, "/go")
    try:
        refused = sandbox.signed_post(url, "{}")
        assert (refused.status_code, refused.json()) == (500, {"message": "Internal Server Error"})
        ((route, reason),) = server.integration_errors
        assert route == "POST /go"
        assert f"apigateway.amazonaws.com cannot assume role {role}" in reason
        assert "aws:SourceAccount: the key is absent from the request context" in reason

        # Without the condition API Gateway assumes the role, which may start only its own machine.
        sandbox.client("iam").update_assume_role_policy(
            RoleName=declared.name("api-start"), PolicyDocument=trust("apigateway.amazonaws.com")
        )
        started = sandbox.signed_post(url, "{}")
        assert started.status_code == 200, started.text
        assert sandbox.wait(started.json()["executionArn"]).status == "SUCCEEDED"

        sandbox.client("iam").delete_role_policy(RoleName=declared.name("api-start"), PolicyName="p0")
        ungranted = sandbox.signed_post(url, "{}")
        assert ungranted.status_code == 500
        assert "states:StartExecution" in server.integration_errors[-1][1]
    finally:
        server.stop()


def test_a_schedule_whose_role_trusts_another_principal_cannot_start_its_target(declared, sandbox):
    machine = _pass_machine(declared)
    group_arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule-group/default"
    role = declared.role("schedule", trust("events.amazonaws.com"), allow("states:StartExecution", machine))
    schedule = declared.declare(
        "aws:scheduler/schedule:Schedule",
        "daily",
        name=declared.name("daily"),
        scheduleExpression="cron(0 6 * * ? *)",
        flexibleTimeWindow={"mode": "OFF"},
        target={"arn": machine, "roleArn": role},
    )

    with pytest.raises(iam.AssumeRoleRefused, match=re.escape(f"scheduler.amazonaws.com cannot assume role {role}")):
        sandbox.fire_schedule(schedule["name"])

    sandbox.client("iam").update_assume_role_policy(
        RoleName=declared.name("schedule"),
        PolicyDocument=trust(
            "scheduler.amazonaws.com",
            StringEquals={"aws:SourceAccount": ACCOUNT_ID},
            ArnLike={"aws:SourceArn": group_arn},
        ),
    )
    assert sandbox.wait(sandbox.fire_schedule(schedule["name"])).status == "SUCCEEDED"


# --- the pieces -----------------------------------------------------------------------------------------------------


def test_the_operator_acts_for_the_sandbox_and_unknown_credentials_are_refused(sandbox):
    caller = sandbox.client("sts").get_caller_identity()["Arn"]
    assert caller == f"arn:aws:iam::{ACCOUNT_ID}:user/{iam.OPERATOR_USER}"
    assert os.environ["AWS_ACCESS_KEY_ID"] == sandbox.iam.operator.access_key
    stranger = iam.RoleCredentials("AKIAIOSFODNN7EXAMPLE", "not-a-key-moto-knows")
    with pytest.raises(ClientError, match=re.escape("InvalidClientTokenId")):
        stranger.client("dynamodb", REGION).list_tables()


def test_role_credentials_are_reused_until_five_minutes_before_they_expire(declared, sandbox, monkeypatch):
    role = declared.role("cached", LAMBDA_TRUST)
    first = sandbox.iam.assume(role, iam.LAMBDA, session_name="fn")
    assert sandbox.iam.assume(role, iam.LAMBDA, session_name="fn") is first
    assert first.expiration - datetime.datetime.now(datetime.UTC) > datetime.timedelta(minutes=55)
    # An hour-long session is "about to expire" if refreshing starts more than an hour ahead.
    monkeypatch.setattr(iam, "REFRESH_BEFORE", datetime.timedelta(hours=2))
    refreshed = sandbox.iam.assume(role, iam.LAMBDA, session_name="fn")
    assert refreshed.access_key != first.access_key


def test_the_emulator_itself_checks_trust_when_the_operator_assumes_a_role_for_a_service(declared, sandbox):
    role = declared.role("emulated", LAMBDA_TRUST)
    sts = sandbox.client("sts")
    context = {"aws:SourceAccount": ACCOUNT_ID}
    with iam_emulation.acting_as(sandbox.iam.operator.arn, iam.LAMBDA, context):
        assert sts.assume_role(RoleArn=role, RoleSessionName="as-lambda")["Credentials"]["AccessKeyId"]
    with iam_emulation.acting_as(sandbox.iam.operator.arn, iam.STATES, {**context, "aws:SourceArn": "x"}) as acting:
        with pytest.raises(ClientError, match="trust policy does not allow it"):
            sts.assume_role(RoleArn=role, RoleSessionName="as-states")
    assert not acting.decision.allowed
    # Standing in for no service, the operator is no principal the trust policy names (moto would crash).
    with pytest.raises(ClientError, match=re.escape(f"sts:AssumeRole on resource: {role}")):
        sts.assume_role(RoleArn=role, RoleSessionName="as-itself")


def test_every_interpreter_module_that_imports_boto_client_for_is_rebound():
    import moto.stepfunctions.parser as parser

    root = os.path.dirname(parser.__file__)
    importers = set()
    for directory, _, files in os.walk(root):
        for file in files:
            if file.endswith(".py") and "import boto_client_for" in open(os.path.join(directory, file)).read():
                relative = os.path.relpath(os.path.join(directory, file), root).removesuffix(".py")
                importers.add(f"{parser.__name__}.{relative.replace(os.sep, '.')}")
    assert importers == set(iam_emulation._INTERPRETER_MODULES)
