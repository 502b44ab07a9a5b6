"""radar under Pulumi mocks: scoped grants, a hardened bucket, the schedule, the definition, config errors."""

import json

import pytest

from infra import asl
from infra.config import ConfigError, Section
from infra.workflows.radar import RadarSettings


def policy_of(program, name):
    (policy,) = [p for p in program.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == name]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def one(program, typ, name=None):
    # Without a name: the radar data bucket's companion of that type.
    found = [r for r in program.of_type(typ) if r.name == name or (name is None and r.name.startswith("radar-data"))]
    assert len(found) == 1, [r.name for r in program.of_type(typ)]
    return found[0]


def test_fetch_reads_only_the_token_secret_and_writes_only_the_staging_prefix(dev_program):
    bucket = dev_program.outputs["radar"]["bucketName"]
    statements = policy_of(dev_program, "radar-fetch-policy")
    assert statements["SecretRead"]["Resource"] == [dev_program.outputs["radar"]["tokenSecretArn"]]
    assert statements["S3Write"] == {
        "Sid": "S3Write",
        "Effect": "Allow",
        "Action": ["s3:PutObject"],
        "Resource": [f"arn:aws:s3:::{bucket}/staging/*"],
    }
    assert set(statements) == {"WriteOwnLogGroup", "XRayWrite", "SecretRead", "SecretReadKey", "S3Write", "S3WriteKey"}
    key_arn = one(dev_program, "aws:kms/key:Key", "radar-key").outputs["arn"]
    # Writing an SSE-KMS object generates a data key under the bucket's key, through S3 only.
    assert statements["S3WriteKey"] == {
        "Sid": "S3WriteKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": [key_arn],
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-west-2.amazonaws.com"}},
    }


def test_prepare_reads_staging_and_writes_only_data_files(dev_program):
    bucket = dev_program.outputs["radar"]["bucketName"]
    statements = policy_of(dev_program, "radar-prepare-policy")
    assert statements["S3Read"]["Resource"] == [f"arn:aws:s3:::{bucket}/staging/*"]
    assert statements["WriteDataJson"]["Resource"] == [f"arn:aws:s3:::{bucket}/*/data.json"]
    assert statements["WriteDataCsv"]["Resource"] == [f"arn:aws:s3:::{bucket}/*/data.csv"]
    assert "SecretRead" not in statements


def test_the_provider_reads_only_the_registry_object_and_uses_the_key_for_data_keys(dev_program):
    bucket = dev_program.outputs["radar"]["bucketName"]
    key_arn = one(dev_program, "aws:kms/key:Key", "radar-key").outputs["arn"]
    statements = policy_of(dev_program, "radar-provider-policy")
    assert statements["S3Read"]["Resource"] == [f"arn:aws:s3:::{bucket}/config/orgs.json"]
    assert statements["EnvelopeKey"] == {
        "Sid": "EnvelopeKey",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey"],
        "Resource": [key_arn],
        # Only data keys bound to the radar pipeline's encryption context.
        "Condition": {"StringEquals": {"kms:EncryptionContext:pipeline": "radar"}},
    }
    decrypt = policy_of(dev_program, "radar-decrypt-policy")["EnvelopeKey"]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Condition"] == {"StringEquals": {"kms:EncryptionContext:pipeline": "radar"}}
    assert set(policy_of(dev_program, "radar-extract-policy")) == {"WriteOwnLogGroup", "XRayWrite"}


def test_the_token_never_travels_in_an_environment_variable(dev_program):
    fetch = one(dev_program, "aws:lambda/function:Function", "radar-fetch-function").inputs
    env = fetch["environment"]["variables"]
    assert env["RADAR_TOKEN_SECRET_ARN"] == dev_program.outputs["radar"]["tokenSecretArn"]
    assert not any("TOKEN" in k and not k.endswith("_SECRET_ARN") for k in env)


def test_the_bucket_is_a_secure_bucket_under_the_radar_key_that_expires_staging(dev_program):
    # The SecureBucket properties themselves are the hardening rule pack's (test_hardening.py).
    key_arn = one(dev_program, "aws:kms/key:Key", "radar-key").outputs["arn"]
    (rule,) = one(
        dev_program, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    assert rule["bucketKeyEnabled"] is True
    rules = {
        r["id"]: r
        for r in one(dev_program, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    }
    assert (
        rules["expire-staging"]["filter"]["prefix"] == "staging/" and rules["expire-staging"]["expiration"]["days"] == 7
    )
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7
    registry = one(dev_program, "aws:s3/bucketObjectv2:BucketObjectv2", "radar-registry").inputs
    assert (registry["serverSideEncryption"], registry["kmsKeyId"]) == ("aws:kms", key_arn)


def test_the_schedule_runs_daily_at_six_utc_and_may_only_start_this_state_machine(dev_program):
    schedule = one(dev_program, "aws:scheduler/schedule:Schedule", "radar-daily-schedule").inputs
    assert schedule["scheduleExpression"] == "cron(0 6 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert json.loads(schedule["target"]["input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}
    machine = dev_program.outputs["radar"]["stateMachineArn"]
    assert policy_of(dev_program, "radar-daily-policy")["StartExecution"]["Resource"] == [machine]


def test_the_state_machine_invokes_only_its_seven_functions_and_its_definition_passes_checks(dev_program):
    functions = [f for f in dev_program.of_type("aws:lambda/function:Function") if f.name.startswith("radar-")]
    arns = sorted(a for f in functions for a in (f.outputs["arn"], f"{f.outputs['arn']}:*"))
    assert len(functions) == 7  # the intake (validate), then the six of the seed
    assert policy_of(dev_program, "radar-sfn-policy")["InvokeFunctions"]["Resource"] == arns
    definition = json.loads(one(dev_program, "aws:sfn/stateMachine:StateMachine", "radar-sfn").inputs["definition"])
    assert asl.check_definition(definition) == []
    assert definition["States"]["FetchEachOrg"]["MaxConcurrency"] == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"queries": ["ranking", "weather"]}, 'stepworks:radar.queries: unknown value "weather"'),
        ({"schedule": "every day"}, 'stepworks:radar.schedule: "every day" is not a schedule expression'),
        ({"maxConcurrency": 0}, "stepworks:radar.maxConcurrency: 0 is out of range; allowed: 1–40"),
        ({"providerUrl": "http://registry.example.com"}, "stepworks:radar.providerUrl:"),
        ({"organizations": {"orgId": "x"}}, "stepworks:radar.organizations: must be a list of objects"),
    ],
)
def test_bad_radar_settings_name_the_key(values, message):
    with pytest.raises(ConfigError) as raised:
        RadarSettings.from_section(Section("stepworks:radar", values))
    assert str(raised.value).startswith(message)


def test_the_bucket_prefixes_the_pipeline_uses_are_reserved_org_ids():
    from infra.workflows import radar
    from pipelines.radar.orgs import RESERVED_ORG_IDS

    assert {radar.STAGING_PREFIX.split("/")[0], radar.REGISTRY_KEY.split("/")[0]} <= RESERVED_ORG_IDS
