"""The sandbox itself: untranslatable types are named, Lambda errors keep their type, SigV4 is checked."""

import datetime
import json
import re

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from infra.components.bucket import access_log_delivery_statement, tls_only_policy
from infra.sandbox.http_api import SignatureError, verify_sigv4
from infra.sandbox.lambda_runner import invoke_in_process
from infra.sandbox.mocks import ACCOUNT_ID, EmulatorMocks, synthetic_outputs
from infra.sandbox.program import ProgramError, load_stack_file, run_program
from infra.sandbox.translators import TRANSLATORS

CREDS = Credentials("AKIDSANDBOX", "sandbox-secret")


def test_a_resource_type_without_translation_fails_the_deploy_naming_the_type():
    translators = {k: v for k, v in TRANSLATORS.items() if k != "aws:dynamodb/table:Table"}
    from moto import mock_aws

    # greeting alone declares a table: no need to emulate the other five pipelines first.
    config = {**load_stack_file("dev"), "stepworks:pipelines": ["greeting"]}
    with mock_aws(), pytest.raises(ProgramError) as raised:
        run_program(EmulatorMocks(translators), config, stack="dev")
    assert "the sandbox cannot emulate resource type aws:dynamodb/table:Table (declared as 'greeting-table')" in str(
        raised.value
    )


class FakeFunction:
    function_name = "f"
    memory_size = 128
    function_arn = "arn:aws:lambda:us-west-2:123456789012:function:f"
    timeout = 3
    region = "us-west-2"

    def __init__(self, handler, env=None):
        self.handler = handler
        self.environment_vars = env or {}
        self.saved = []

    def save_logs(self, text):
        self.saved.append(text)


def test_a_handler_exception_becomes_a_function_error_typed_by_its_class_name():
    payload, errored, _ = invoke_in_process(FakeFunction("pipelines.greeting.handlers.hello"), {"message": 1})
    assert errored is True
    body = json.loads(payload)
    assert body["errorType"] == "InvalidInputError"
    assert body["errorMessage"] == "message: must be a string, got number 1"


def test_the_handler_runs_with_its_own_environment_which_is_restored_afterwards(monkeypatch):
    monkeypatch.delenv("STEPWORKS_PROBE", raising=False)
    fn = FakeFunction("os.getenv", {"STEPWORKS_PROBE": "from-function"})
    # os.getenv(event, context) → returns the variable named by the event.
    payload, errored, _ = invoke_in_process(fn, '"STEPWORKS_PROBE"')
    assert (json.loads(payload), errored) == ("from-function", False)
    import os

    assert "STEPWORKS_PROBE" not in os.environ


def _signed(url, body, creds=CREDS, region="us-west-2", service="execute-api"):
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(creds, service, region).add_auth(request)
    return dict(request.headers.items())


def test_sigv4_accepts_a_request_signed_with_the_sandbox_credentials():
    url = "http://127.0.0.1:9999/abc/greetings"
    verify_sigv4("POST", url, _signed(url, b"{}"), b"{}", CREDS, "us-west-2")


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda h, b: (h, b'{"x": 1}'), "signature does not match"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "Authorization"}, b), "missing or malformed"),
        (lambda h, b: ({**h, "X-Amz-Date": "20200101T000000Z"}, b), "signature expired"),
    ],
)
def test_sigv4_rejects_tampered_unsigned_or_stale_requests(tamper, reason):
    url = "http://127.0.0.1:9999/abc/greetings"
    headers, body = tamper(_signed(url, b"{}"), b"{}")
    with pytest.raises(SignatureError, match=reason):
        verify_sigv4("POST", url, headers, body, CREDS, "us-west-2")


def test_sigv4_rejects_a_signature_for_another_service_or_key():
    url = "http://127.0.0.1:9999/abc/greetings"
    with pytest.raises(SignatureError, match="expected execute-api"):
        verify_sigv4("POST", url, _signed(url, b"{}", service="s3"), b"{}", CREDS, "us-west-2")
    with pytest.raises(SignatureError, match="unknown access key"):
        verify_sigv4("POST", url, _signed(url, b"{}", creds=Credentials("OTHER", "x")), b"{}", CREDS, "us-west-2")
    assert datetime.datetime.now(datetime.UTC)  # clock available for the skew check


# --- translators of the inputs the hardened program declares ----------------------------------------------


@pytest.fixture
def emulated():
    from moto import mock_aws

    with mock_aws():
        yield EmulatorMocks(TRANSLATORS, region="us-west-2")


def _declare(mocks, typ, logical, /, **inputs):
    from infra.sandbox.mocks import DeclaredResource

    return mocks.create(DeclaredResource(typ=typ, name=logical, inputs=inputs))


def _client(service):
    import boto3

    return boto3.client(service, region_name="us-west-2")


LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def test_a_role_path_is_part_of_its_arn_in_the_emulator_and_in_synth(emulated):
    _, outputs = _declare(
        emulated, "aws:iam/role:Role", "r", name="fn", assumeRolePolicy=LAMBDA_TRUST, path="/sw-dev/radar/"
    )
    assert outputs["arn"] == "arn:aws:iam::123456789012:role/sw-dev/radar/fn"
    assert (
        synthetic_outputs("aws:iam/role:Role", "r", {"name": "fn", "path": "/sw-dev/radar/"})[1]["arn"]
        == outputs["arn"]
    )


def test_a_key_keeps_its_policy_rotation_and_alias_and_encrypts_log_groups_tables_and_secrets(emulated):
    logs_admitted = {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*:*:log-group:/aws/*/sw-dev-radar*"}
    root = {"AWS": "arn:aws:iam::123456789012:root"}
    logs = {"Service": "logs.us-west-2.amazonaws.com"}
    key_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Root", "Effect": "Allow", "Principal": root, "Action": "kms:*", "Resource": "*"},
                {
                    "Sid": "Logs",
                    "Effect": "Allow",
                    "Principal": logs,
                    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {"ArnLike": logs_admitted},
                },
            ],
        }
    )
    key_id, key = _declare(
        emulated, "aws:kms/key:Key", "k", policy=key_policy, enableKeyRotation=True, deletionWindowInDays=7.0
    )
    kms = _client("kms")
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == json.loads(key_policy)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    alias_id, alias = _declare(emulated, "aws:kms/alias:Alias", "a", name="alias/sw-dev-radar", targetKeyId=key["arn"])
    assert (alias_id, alias["targetKeyArn"]) == ("alias/sw-dev-radar", key["arn"])
    assert kms.describe_key(KeyId="alias/sw-dev-radar")["KeyMetadata"]["Arn"] == key["arn"]

    _declare(
        emulated, "aws:cloudwatch/logGroup:LogGroup", "lg", name="/aws/lambda/sw-dev-radar-fetch", kmsKeyId=key["arn"]
    )
    (group,) = _client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/sw-dev-radar")["logGroups"]
    assert group["kmsKeyId"] == key["arn"]

    _declare(
        emulated,
        "aws:dynamodb/table:Table",
        "t",
        name="runs",
        hashKey="id",
        attributes=[{"name": "id", "type": "S"}],
        serverSideEncryption={"enabled": True, "kmsKeyArn": key["arn"]},
        ttl={"attributeName": "expiresAt", "enabled": True},
    )
    ddb = _client("dynamodb")
    sse = ddb.describe_table(TableName="runs")["Table"]["SSEDescription"]
    assert (sse["SSEType"], sse["KMSMasterKeyArn"]) == ("KMS", key["arn"])
    ttl = ddb.describe_time_to_live(TableName="runs")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiresAt")

    secret_arn, _ = _declare(emulated, "aws:secretsmanager/secret:Secret", "s", name="token", kmsKeyId=key["arn"])
    assert _client("secretsmanager").describe_secret(SecretId=secret_arn)["KmsKeyId"] == key["arn"]


def test_a_deletion_window_outside_7_to_30_days_is_refused_as_aws_does(emulated):
    with pytest.raises(ValueError, match="deletionWindowInDays must be between 7 and 30, got 3"):
        _declare(emulated, "aws:kms/key:Key", "k", deletionWindowInDays=3.0)


def test_reserved_concurrency_is_set_when_given_and_left_unreserved_at_minus_one(emulated):
    import pulumi

    _, role = _declare(emulated, "aws:iam/role:Role", "r", name="fn-role", assumeRolePolicy=LAMBDA_TRUST)
    common = dict(runtime="python3.11", role=role["arn"], handler="m.h", code=pulumi.AssetArchive({}))
    _declare(emulated, "aws:lambda/function:Function", "a", name="reserved", reservedConcurrentExecutions=5.0, **common)
    _declare(
        emulated, "aws:lambda/function:Function", "b", name="unreserved", reservedConcurrentExecutions=-1.0, **common
    )
    lam = _client("lambda")
    assert lam.get_function_concurrency(FunctionName="reserved")["ReservedConcurrentExecutions"] == 5
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="unreserved")


def _bucket(mocks, name):
    return _declare(mocks, "aws:s3/bucket:Bucket", name, bucket=name)[0]


def _log_bucket_policy(target: str, *sources: str) -> str:
    """The access log bucket's policy as the program writes it: TLS only, delivery for ``sources``."""
    arn = f"arn:aws:s3:::{target}"
    delivery = access_log_delivery_statement(arn, ACCOUNT_ID, [f"arn:aws:s3:::{s}" for s in sources])
    return json.dumps(tls_only_policy(arn, [delivery]))


def _logging(mocks, source, target):
    return _declare(
        mocks,
        "aws:s3/bucketLogging:BucketLogging",
        f"{source}-logging",
        bucket=source,
        targetBucket=target,
        targetPrefix=f"s3-access/{source}/",
        targetObjectKeyFormat={"partitionedPrefix": {"partitionDateSource": "EventTime"}},
    )


def _logged_into(source):
    return _client("s3").get_bucket_logging(Bucket=source).get("LoggingEnabled", {}).get("TargetBucket")


def test_server_access_logging_is_enabled_when_the_target_policy_admits_the_source_before_or_after(emulated):
    from infra.sandbox.storage_translators import unfinished_logging

    early, late, target = (_bucket(emulated, n) for n in ("sw-dev-early", "sw-dev-late", "sw-dev-access-logs"))
    # The log bucket's policy is written last (it names every source): logging waits for it.
    _logging(emulated, late, target)
    assert _logged_into(late) is None and unfinished_logging(emulated)
    _declare(
        emulated, "aws:s3/bucketPolicy:BucketPolicy", "p", bucket=target, policy=_log_bucket_policy(target, early, late)
    )
    assert _logged_into(late) == target
    _logging(emulated, early, target)
    assert _logged_into(early) == target
    assert unfinished_logging(emulated) == []


def test_server_access_logging_from_a_source_the_target_does_not_admit_is_refused_naming_why(emulated):
    from infra.sandbox.storage_translators import unfinished_logging

    source, other, target = (_bucket(emulated, n) for n in ("sw-dev-source", "sw-dev-other", "sw-dev-target"))
    _declare(emulated, "aws:s3/bucketPolicy:BucketPolicy", "p", bucket=target, policy=_log_bucket_policy(target, other))
    with pytest.raises(ValueError, match=re.escape("ArnLike aws:SourceArn: 'arn:aws:s3:::sw-dev-source'")):
        _logging(emulated, source, target)

    never = _bucket(emulated, "sw-dev-no-policy")
    _logging(emulated, source, never)
    assert unfinished_logging(emulated) == [
        "server access logs of sw-dev-source cannot go to sw-dev-no-policy: sw-dev-no-policy has no bucket policy "
        "letting logging.s3.amazonaws.com write under s3-access/sw-dev-source/"
    ]


def test_an_encrypted_topic_and_queue_keep_their_key_retention_and_policies(emulated):
    _, key = _declare(emulated, "aws:kms/key:Key", "k")
    topic_arn, topic = _declare(
        emulated, "aws:sns/topic:Topic", "reports", name="sw-dev-reports", kmsMasterKeyId=key["arn"]
    )
    assert topic_arn == topic["arn"] == "arn:aws:sns:us-west-2:123456789012:sw-dev-reports"
    publish = {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sns:Publish"}
    topic_policy = json.dumps({"Version": "2012-10-17", "Statement": [{**publish, "Resource": topic_arn}]})
    _declare(emulated, "aws:sns/topicPolicy:TopicPolicy", "tp", arn=topic_arn, policy=topic_policy)
    attributes = _client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"] == key["arn"]
    assert json.loads(attributes["Policy"]) == json.loads(topic_policy)

    url, queue = _declare(
        emulated,
        "aws:sqs/queue:Queue",
        "dlq",
        name="sw-dev-dlq",
        kmsMasterKeyId=key["arn"],
        messageRetentionSeconds=1209600.0,
    )
    assert (url, queue["url"]) == (queue["url"], "https://sqs.us-west-2.amazonaws.com/123456789012/sw-dev-dlq")
    assert queue["arn"] == "arn:aws:sqs:us-west-2:123456789012:sw-dev-dlq"
    send = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage"}
    queue_policy = json.dumps({"Version": "2012-10-17", "Statement": [{**send, "Resource": queue["arn"]}]})
    _declare(emulated, "aws:sqs/queuePolicy:QueuePolicy", "qp", queueUrl=url, policy=queue_policy)
    attributes = _client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["KmsMasterKeyId"], attributes["MessageRetentionPeriod"]) == (key["arn"], "1209600")
    assert json.loads(attributes["Policy"]) == json.loads(queue_policy)


@pytest.mark.parametrize(
    ("typ", "inputs", "expected"),
    [
        ("aws:sns/topic:Topic", {"name": "reports"}, {"arn": "arn:aws:sns:us-west-2:123456789012:reports"}),
        (
            "aws:sqs/queue:Queue",
            {"name": "dlq"},
            {
                "url": "https://sqs.us-west-2.amazonaws.com/123456789012/dlq",
                "arn": "arn:aws:sqs:us-west-2:123456789012:dlq",
            },
        ),
        (
            "aws:kms/alias:Alias",
            {"name": "alias/radar", "targetKeyId": "k-1"},
            {"arn": "arn:aws:kms:us-west-2:123456789012:alias/radar"},
        ),
    ],
)
def test_synth_answers_plausible_identifiers_for_the_new_types(typ, inputs, expected):
    _, outputs = synthetic_outputs(typ, "logical", inputs)
    assert {k: outputs[k] for k in expected} == expected
