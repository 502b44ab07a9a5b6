"""Synth fidelity: every identifier in the synth output and every answer of the recording mocks has
the format AWS gives that resource type (ARNs per service, EC2 ids, queue URLs, endpoints, bucket names).

The ARN formats below are written from AWS's documentation (the Service Authorization Reference's
"resource types" table of each service, and each service's naming rules). An ARN of a service
without an entry fails: a new service gets its pattern before it reaches synth.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra.cli import main as cli_main
from infra.components.object_trigger import S3ObjectCreated, S3ObjectCreatedArgs
from infra.components.stack import FunctionRuntime, PipelineOwner, StackContext
from infra.sandbox.mocks import ACCOUNT_ID, REGION, RecordingMocks, physical_name, synthetic_outputs
from infra.sandbox.program import load_stack_file, run_program
from infra.sandbox.translators import TRANSLATORS

# --- AWS's formats -------------------------------------------------------------------------------

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
IAM_NAME = r"[\w+=,.@-]{1,64}"
IAM_PATH = r"(?:/[\w+=,.@-]+)*/"  # "/" or "/a/b/"
API_ID = r"[a-z0-9]{10}"
BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
LOG_GROUP = r"[\w#/.*-]{1,512}"  # letters, digits, _ - / . #; "*" as a policy wildcard
SECRET_NAME = r"[\w/+=.@!-]{1,512}"
RDS_IDENTIFIER = r"[a-z](?:-?[a-z0-9]){0,62}"  # a letter first, no "--", no trailing "-"
SCHEDULER_NAME = r"[\w.-]{1,64}"
EVENTS_NAME = r"[\w.-]{1,64}"
ALARM_NAME = r"[\w.-]{1,255}"  # the program's alarm names: <prefix>-<pipeline>-<what>
DASHBOARD_NAME = r"[\w-]{1,255}"  # letters, digits, "-" and "_"

# ARN resource type → id prefix of the EC2 resources (``arn:aws:ec2:<r>:<a>:<type>/<prefix>-<17 hex>``).
EC2_KINDS = {
    "vpc": "vpc",
    "subnet": "subnet",
    "security-group": "sg",
    "security-group-rule": "sgr",
    "internet-gateway": "igw",
    "natgateway": "nat",
    "elastic-ip": "eipalloc",
    "route-table": "rtb",
    "network-acl": "acl",
    "network-interface": "eni",
    "dhcp-options": "dopt",
    "vpc-flow-log": "fl",
}
EC2_ID_PREFIXES = sorted({*EC2_KINDS.values(), "rtbassoc"}, key=len, reverse=True)

REGIONAL, GLOBAL = "regional", "global"  # where the region field is the stack's region / empty
# A foundation model a cross-region inference profile routes to: in a region of the profile's
# geography, the stack's or another (Bedrock user guide, "Inference profiles").
ROUTED = "routed"
ACCOUNT, NO_ACCOUNT = "account", "none"  # where the account field is the stack's account / empty

# service → [(resource type, region field, account field, resource part)]
ARN_FORMATS: dict[str, list[tuple[str, str, str, str]]] = {
    "iam": [
        ("role", GLOBAL, ACCOUNT, rf"role{IAM_PATH}(?:{IAM_NAME}|\*)"),
        ("user", GLOBAL, ACCOUNT, rf"user{IAM_PATH}(?:{IAM_NAME}|\*)"),
        ("policy", GLOBAL, ACCOUNT, rf"policy{IAM_PATH}[\w+=,.@-]{{1,128}}"),
        ("AWS managed policy", GLOBAL, "aws", rf"policy{IAM_PATH}[\w+=,.@-]{{1,128}}"),
        ("account root", GLOBAL, ACCOUNT, r"root"),
    ],
    "sts": [("assumed role", GLOBAL, ACCOUNT, rf"assumed-role/{IAM_NAME}/[\w+=,.@-]{{2,64}}")],
    "kms": [
        ("key", REGIONAL, ACCOUNT, rf"key/(?:{UUID}|mrk-[0-9a-f]{{32}}|\*)"),
        ("alias", REGIONAL, ACCOUNT, r"alias/[\w/-]{1,250}"),
    ],
    "secretsmanager": [
        # The name, a hyphen and six random characters; policies may write them as "??????" or "*".
        ("secret", REGIONAL, ACCOUNT, rf"secret:{SECRET_NAME}-(?:[A-Za-z0-9]{{6}}|\?{{6}})"),
        ("secret (wildcard)", REGIONAL, ACCOUNT, rf"secret:{SECRET_NAME}\*"),
    ],
    "lambda": [
        ("function", REGIONAL, ACCOUNT, r"function:[\w-]{1,64}(?::(?:\$LATEST|[\w-]{1,128}|\*))?"),
        ("layer version", REGIONAL, ACCOUNT, r"layer:[\w-]{1,140}:\d+"),
        ("layer", REGIONAL, ACCOUNT, r"layer:[\w-]{1,140}"),
    ],
    "states": [
        ("state machine", REGIONAL, ACCOUNT, r"stateMachine:[\w-]{1,80}(?::[\w-]{1,80})?"),
        ("execution", REGIONAL, ACCOUNT, r"(?:execution|express):[\w-]{1,80}:(?:[\w-]{1,80}|\*)"),
        ("activity", REGIONAL, ACCOUNT, r"activity:[\w-]{1,80}"),
        # Task resources of the optimized and SDK integrations: arn:aws:states:::<service>:<action>.
        (
            "service integration",
            GLOBAL,
            NO_ACCOUNT,
            r"(?:aws-sdk:)?[a-z0-9-]+:[a-zA-Z]+(?:\.sync(?::2)?|\.waitForTaskToken)?",
        ),
    ],
    "logs": [
        # pulumi-aws reports a group's ARN without ":*"; policies (and some APIs) add it.
        ("log group", REGIONAL, ACCOUNT, rf"log-group:{LOG_GROUP}(?::\*)?"),
        ("log stream", REGIONAL, ACCOUNT, rf"log-group:{LOG_GROUP}:log-stream:(?:[^:*]{{1,512}}|\*)"),
    ],
    "dynamodb": [
        ("table", REGIONAL, ACCOUNT, r"table/[\w.-]{3,255}"),
        ("index", REGIONAL, ACCOUNT, r"table/[\w.-]{3,255}/index/(?:[\w.-]{3,255}|\*)"),
        (
            "stream",
            REGIONAL,
            ACCOUNT,
            r"table/[\w.-]{3,255}/stream/(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}|\*)",
        ),
    ],
    "s3": [
        ("bucket", GLOBAL, NO_ACCOUNT, BUCKET),
        ("object", GLOBAL, NO_ACCOUNT, rf"{BUCKET}/\S*"),
    ],
    "bedrock": [
        ("foundation model", ROUTED, NO_ACCOUNT, r"foundation-model/[a-z0-9-]+(?:\.[\w-]+)+(?::[\w.]+)*"),
        (
            "inference profile",
            REGIONAL,
            ACCOUNT,
            r"inference-profile/(?:us|eu|apac)\.[a-z0-9-]+(?:\.[\w-]+)+(?::[\w.]+)*",
        ),
    ],
    "sns": [
        ("topic", REGIONAL, ACCOUNT, r"[\w-]{1,256}(?:\.fifo)?"),
        ("subscription", REGIONAL, ACCOUNT, rf"[\w-]{{1,256}}(?:\.fifo)?:{UUID}"),
    ],
    "sqs": [("queue", REGIONAL, ACCOUNT, r"[\w-]{1,80}(?:\.fifo)?")],
    "events": [
        ("rule", REGIONAL, ACCOUNT, rf"rule/(?:[\w./-]{{1,256}}/)?(?:{EVENTS_NAME}|\*)"),
        ("event bus", REGIONAL, ACCOUNT, r"event-bus/[\w./-]{1,256}"),
        ("connection", REGIONAL, ACCOUNT, rf"connection/{EVENTS_NAME}/{UUID}"),
        ("API destination", REGIONAL, ACCOUNT, rf"api-destination/{EVENTS_NAME}/{UUID}"),
    ],
    "cloudwatch": [
        # Alarms are regional; a policy names the stack's alarms with a trailing "*". Dashboards are global.
        ("alarm", REGIONAL, ACCOUNT, rf"alarm:(?:{ALARM_NAME}|[\w.-]{{1,254}}\*)"),
        ("dashboard", GLOBAL, ACCOUNT, rf"dashboard/{DASHBOARD_NAME}"),
    ],
    "scheduler": [
        ("schedule", REGIONAL, ACCOUNT, rf"schedule/{SCHEDULER_NAME}/(?:{SCHEDULER_NAME}|\*)"),
        ("schedule group", REGIONAL, ACCOUNT, rf"schedule-group/{SCHEDULER_NAME}"),
    ],
    "apigateway": [
        (
            "HTTP API (or one of its parts)",
            REGIONAL,
            NO_ACCOUNT,
            rf"/apis/{API_ID}(?:/stages/[\w$-]{{1,128}}|/routes/[a-z0-9]{{7}}|/integrations/[a-z0-9]{{7}}"
            rf"|/authorizers/[a-z0-9]{{6,10}})?",
        ),
        # The Lambda invoke action (a function's invokeArn): "lambda" stands where the account would.
        (
            "Lambda invocation",
            REGIONAL,
            "lambda",
            r"path/2015-03-31/functions/arn:aws:lambda:[^/]+/invocations",
        ),
    ],
    "execute-api": [
        ("API execution", REGIONAL, ACCOUNT, rf"{API_ID}(?:/[\w$*-]+(?:/(?:[A-Z]+|\*)(?:/\S*)?)?)?"),
    ],
    "ec2": [(kind, REGIONAL, ACCOUNT, rf"{kind}/(?:{prefix}-[0-9a-f]{{17}}|\*)") for kind, prefix in EC2_KINDS.items()],
    "rds": [
        ("DB instance", REGIONAL, ACCOUNT, rf"db:(?:{RDS_IDENTIFIER}|\*)"),
        ("subnet group", REGIONAL, ACCOUNT, r"subgrp:[a-z0-9 ._-]{1,255}"),
        ("parameter group", REGIONAL, ACCOUNT, r"pg:[a-z](?:-?[a-z0-9]){0,254}"),
    ],
}


@functools.cache
def arn_patterns(region: str, account: str, any_region_or_account: bool = False) -> dict[str, list]:
    """``ARN_FORMATS`` as full-match regexes for one region and account (or for any)."""
    fields = {
        REGIONAL: re.escape(region), GLOBAL: "", ROUTED: r"(?:us|eu|ap|ca)-[a-z]+-\d", ACCOUNT: re.escape(account),
        NO_ACCOUNT: "",
    }  # fmt: skip
    if any_region_or_account:
        fields = dict.fromkeys(fields, "[^:]*")
    return {
        service: [
            (kind, re.compile(rf"arn:aws:{re.escape(service)}:{fields[r]}:{fields.get(a, a)}:{resource}"))
            for kind, r, a, resource in formats
        ]
        for service, formats in ARN_FORMATS.items()
    }


def arn_problem(arn: str, region: str = REGION, account: str = ACCOUNT_ID) -> str | None:
    """Why ``arn`` is not an ARN AWS would write for this region and account (None: it is one)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or parts[1] != "aws":
        return "not arn:aws:<service>:<region>:<account>:<resource>"
    service = parts[2]
    patterns = arn_patterns(region, account).get(service)
    if patterns is None:
        return f"service {service!r} has no ARN pattern in this test: add AWS's format for it"
    if not any(pattern.fullmatch(arn) for _, pattern in patterns):
        if any(pattern.fullmatch(arn) for _, pattern in arn_patterns(region, account, True)[service]):
            return f"region {parts[3]!r} or account {parts[4]!r} is not this stack's ({region}, {account}, or empty)"
        return f"no {service} resource type has this form (known: {', '.join(k for k, _ in patterns)})"
    for nested in re.findall(r"(?<=/)arn:[^/]+", arn):  # the function inside a Lambda invocation ARN
        if problem := arn_problem(nested, region, account):
            return f"inner {nested}: {problem}"
    s3 = re.fullmatch(r"arn:aws:s3:::([^/]+)(?:/.*)?", arn)
    if s3 and (problem := bucket_name_problem(s3.group(1))):
        return problem
    return None


def bucket_name_problem(name: str) -> str | None:
    """S3's general-purpose bucket naming rules (None: the name follows them)."""
    if not re.fullmatch(BUCKET, name):
        return f"bucket name {name!r}: 3–63 lowercase letters, digits, dots and hyphens, alphanumeric at both ends"
    if ".." in name or ".-" in name or "-." in name:
        return f"bucket name {name!r}: adjacent periods (or a period beside a hyphen)"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return f"bucket name {name!r}: formatted as an IP address"
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(("-s3alias", "--ol-s3", "--x-s3")):
        return f"bucket name {name!r}: a reserved prefix or suffix"
    return None


EC2_ID = re.compile(rf"(?:{'|'.join(EC2_ID_PREFIXES)})-[0-9a-f]{{17}}")
EC2_ID_SHAPED = re.compile(rf"(?:{'|'.join(EC2_ID_PREFIXES)})-[0-9A-Za-z]+")
ROUTE_ID = re.compile(r"r-rtb-[0-9a-f]{17}\d{1,10}")  # Terraform: "r-" + table id + CRC-32 of the destination


@functools.cache
def url_patterns(region: str, account: str) -> dict[str, re.Pattern]:
    """The formats of the AWS URLs and host names the mocks answer."""
    r, a = re.escape(region), re.escape(account)
    return {
        "SQS queue URL": re.compile(rf"https://sqs\.{r}\.amazonaws\.com/{a}/[\w-]{{1,80}}(?:\.fifo)?"),
        "HTTP API endpoint": re.compile(rf"(?:https|wss)://{API_ID}\.execute-api\.{r}\.amazonaws\.com(?:/\S*)?"),
        "RDS endpoint": re.compile(rf"{RDS_IDENTIFIER}\.[a-z0-9]{{12}}\.{r}\.rds\.amazonaws\.com(?::\d{{1,5}})?"),
        "S3 domain": re.compile(rf"{BUCKET}\.s3(?:\.{r})?\.amazonaws\.com"),
        "EC2 public DNS": re.compile(rf"ec2-\d{{1,3}}(?:-\d{{1,3}}){{3}}\.{r}\.compute\.amazonaws\.com"),
    }


def identifier_problem(value: str, region: str = REGION, account: str = ACCOUNT_ID) -> str | None:
    """Why a non-ARN string shaped like an AWS id, URL or host name is not in AWS's format."""
    if EC2_ID_SHAPED.fullmatch(value) and not EC2_ID.fullmatch(value):
        return "an EC2 id is its prefix, a hyphen and 17 hex digits"
    if value.startswith("r-rtb-") and not ROUTE_ID.fullmatch(value):
        return "a route id is r-<route table id><CRC-32 of the destination>"
    host = re.fullmatch(r"(?:(?:https|wss)://)?([\w.-]+\.amazonaws\.com)(?::\d+)?(?:/\S*)?", value)
    if host is None:
        return None
    # Service principals (logs.<region>.amazonaws.com, monitoring.rds.amazonaws.com …) are no hosts of ours.
    ours = "://" in value or re.search(
        r"\.(?:s3(?:\.[a-z0-9-]+)?|compute|[a-z0-9-]+\.rds)\.amazonaws\.com$", host.group(1)
    )
    if ours and not any(p.fullmatch(value) for p in url_patterns(region, account).values()):
        return "not the format of an SQS queue URL, HTTP API endpoint, RDS endpoint, S3 domain or EC2 DNS name"
    return None


# --- walking the synth output --------------------------------------------------------------------

EMBEDDED_ARN = re.compile(r"(?<![\w/:.-])arn:[^\s\"'<>,;()\[\]{}|]+")


def strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string in ``value``: dict values, list items, and the strings of JSON documents inside strings."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{where}[{i}]")
    elif isinstance(value, str):
        if value.lstrip()[:1] in ("{", "["):
            try:
                yield from strings(json.loads(value), f"{where}<json>")
                return
            except ValueError:
                pass
        yield where, value


def arns(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every ARN in ``value``: whole string values and ARNs embedded in text."""
    for path, text in strings(value, where):
        yield from ((path, m.group(0)) for m in EMBEDDED_ARN.finditer(text))


def synth_files(out: Path) -> dict[str, Any]:
    """Every JSON file synth wrote, parsed, by its path under ``out``."""
    return {str(p.relative_to(out)): json.loads(p.read_text()) for p in sorted(out.rglob("*.json"))}


def arn_problems(files: dict[str, Any], region: str = REGION) -> list[str]:
    found = {(arn, f"{name}{path}") for name, data in files.items() for path, arn in arns(data)}
    return sorted(
        f"{arn}: {problem} (in {where})"
        for arn, where in found
        if (problem := arn_problem(arn, region, ACCOUNT_ID)) is not None
    )


def identifier_problems(files: dict[str, Any], region: str = REGION) -> list[str]:
    found = {(text, f"{name}{path}") for name, data in files.items() for path, text in strings(data)}
    return sorted(
        f"{text}: {problem} (in {where})"
        for text, where in found
        if (problem := identifier_problem(text, region, ACCOUNT_ID)) is not None
    )


@pytest.fixture(scope="module")
def synth_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    assert cli_main(["synth", "--out", str(out)]) == 0
    return out


def test_the_walk_finds_arns_in_values_in_json_encoded_documents_and_in_text():
    policy = json.dumps({"Statement": [{"Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}]})
    found = sorted(a for _, a in arns({"x": [{"policy": policy}], "env": {"V": "role arn:aws:iam::1:root."}}))
    assert found == ["arn:aws:iam::1:root.", "arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    assert arn_problem("arn:aws:iam::123456789012:root.") is not None
    # The formats the issue found in synth, and what AWS writes instead.
    assert arn_problem("arn:aws:kms:us-west-2:123456789012:radar-key/1eaf0fafdc86")
    assert arn_problem("arn:aws:kms:us-west-2:123456789012:key/2c5e706f-6985-4ce8-9d4c-bcd1ddd53bb1") is None
    assert arn_problem("arn:aws:secretsmanager:us-west-2:123456789012:radar-cloudflare-token/1eaf0fafdc86")
    assert arn_problem("arn:aws:secretsmanager:us-west-2:123456789012:secret:radar-token-a1B2c3") is None
    assert arn_problem("arn:aws:iam:us-west-2:123456789012:role/x")  # IAM is global
    assert arn_problem("arn:aws:iam::123456789012:role/sw-dev/radar/radar-sfn-role-9d4e89b") is None
    assert arn_problem("arn:aws:iam::123456789012:role/sw-dev/radar/*") is None
    assert arn_problem("arn:aws:logs:us-west-2:123456789012:log-group:/aws/lambda/f:*") is None
    assert arn_problem("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f")  # another region
    assert arn_problem("arn:aws:apigatewayv2:us-west-2:123456789012:x/0d74d248fca6")  # no such service prefix
    assert arn_problem("arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0123")  # 17 hex digits
    assert arn_problem("arn:aws:s3:::Radar_Data")  # bucket naming rules
    assert identifier_problem("subnet-0aaa") and identifier_problem("vpc-0123456789abcdef0") is None
    assert identifier_problem("https://sqs.us-west-2.amazonaws.com/123456789012/q") is None
    assert identifier_problem("https://sqs.us-west-2.amazonaws.com/q")


def test_every_arn_in_the_dev_synth_output_has_its_services_format(synth_out):
    files = synth_files(synth_out)
    assert {"resources.json", "greeting.asl.json", "iam/radar-sfn-policy.json"} <= set(files)
    found = {arn for data in files.values() for _, arn in arns(data)}
    assert len(found) > 50 and {a.split(":")[2] for a in found} >= {"iam", "kms", "logs", "lambda", "states", "s3"}
    assert arn_problems(files) == []


def test_ec2_ids_urls_and_bucket_names_in_the_dev_synth_output_have_aws_formats(synth_out):
    files = synth_files(synth_out)
    assert identifier_problems(files) == []
    resources = files["resources.json"]
    buckets = [
        (r["type"], r["inputs"]["bucket"])
        for r in resources
        if r["type"].startswith("aws:s3/") and "bucket" in r["inputs"]
    ]
    assert len(buckets) > 5
    assert [f"{typ}: {problem}" for typ, name in buckets if (problem := bucket_name_problem(name))] == []
    subnets = [s for r in resources for s in r["inputs"].get("subnetIds") or []]
    assert subnets and all(EC2_ID.fullmatch(s) and s.startswith("subnet-") for s in subnets)


# --- what the recording mocks answer -------------------------------------------------------------

# Pulumi type → the format of the id pulumi-aws reports ("ARN": the id is the resource's ARN).
ID_FORMATS = {
    "aws:iam/role:Role": IAM_NAME,
    "aws:iam/policy:Policy": "ARN",
    "aws:iam/rolePolicy:RolePolicy": rf"{IAM_NAME}:[\w+=,.@-]{{1,128}}",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": rf"{IAM_NAME}-\d{{18}}[0-9a-f]{{8}}",
    "aws:kms/key:Key": UUID,
    "aws:kms/alias:Alias": r"alias/[\w/-]{1,250}",
    "aws:secretsmanager/secret:Secret": "ARN",
    "aws:cloudwatch/logGroup:LogGroup": r"[\w#/.-]{1,512}",
    "aws:lambda/function:Function": r"[\w-]{1,64}",
    "aws:lambda/layerVersion:LayerVersion": "ARN",
    "aws:lambda/permission:Permission": r"[\w-]{1,100}",
    "aws:sfn/stateMachine:StateMachine": "ARN",
    "aws:dynamodb/table:Table": r"[\w.-]{3,255}",
    "aws:apigatewayv2/api:Api": API_ID,
    "aws:apigatewayv2/integration:Integration": r"[a-z0-9]{7}",
    "aws:apigatewayv2/route:Route": r"[a-z0-9]{7}",
    "aws:apigatewayv2/authorizer:Authorizer": r"[a-z0-9]{6,10}",
    "aws:apigatewayv2/stage:Stage": r"\$default|[\w-]{1,128}",
    "aws:cloudwatch/eventRule:EventRule": rf"(?:[\w./-]{{1,256}}/)?{EVENTS_NAME}",
    "aws:cloudwatch/eventTarget:EventTarget": rf"{EVENTS_NAME}-{EVENTS_NAME}",
    "aws:cloudwatch/eventConnection:EventConnection": EVENTS_NAME,
    "aws:cloudwatch/metricAlarm:MetricAlarm": ALARM_NAME,
    "aws:cloudwatch/dashboard:Dashboard": DASHBOARD_NAME,
    "aws:scheduler/schedule:Schedule": rf"{SCHEDULER_NAME}/{SCHEDULER_NAME}",
    "aws:scheduler/scheduleGroup:ScheduleGroup": SCHEDULER_NAME,
    "aws:sns/topic:Topic": "ARN",
    "aws:sns/topicPolicy:TopicPolicy": "ARN",
    "aws:sns/topicSubscription:TopicSubscription": "ARN",
    "aws:sqs/queue:Queue": "URL",
    "aws:sqs/queuePolicy:QueuePolicy": "URL",
    "aws:s3/bucket:Bucket": BUCKET,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": BUCKET,
    "aws:s3/bucketLogging:BucketLogging": BUCKET,
    "aws:s3/bucketNotification:BucketNotification": BUCKET,
    "aws:s3/bucketPolicy:BucketPolicy": BUCKET,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": BUCKET,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": BUCKET,
    "aws:s3/bucketVersioning:BucketVersioning": BUCKET,
    "aws:s3/bucketObjectv2:BucketObjectv2": r"\S{1,1024}",
    "aws:ec2/vpc:Vpc": r"vpc-[0-9a-f]{17}",
    "aws:ec2/subnet:Subnet": r"subnet-[0-9a-f]{17}",
    "aws:ec2/internetGateway:InternetGateway": r"igw-[0-9a-f]{17}",
    "aws:ec2/eip:Eip": r"eipalloc-[0-9a-f]{17}",
    "aws:ec2/natGateway:NatGateway": r"nat-[0-9a-f]{17}",
    "aws:ec2/routeTable:RouteTable": r"rtb-[0-9a-f]{17}",
    "aws:ec2/route:Route": ROUTE_ID.pattern,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": r"rtbassoc-[0-9a-f]{17}",
    "aws:ec2/networkAcl:NetworkAcl": r"acl-[0-9a-f]{17}",
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": r"acl-[0-9a-f]{17}",
    "aws:ec2/securityGroup:SecurityGroup": r"sg-[0-9a-f]{17}",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": r"sg-[0-9a-f]{17}",
    "aws:ec2/flowLog:FlowLog": r"fl-[0-9a-f]{17}",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": r"sgr-[0-9a-f]{17}",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": r"sgr-[0-9a-f]{17}",
    "aws:rds/subnetGroup:SubnetGroup": r"[a-z0-9 ._-]{1,255}",
    "aws:rds/parameterGroup:ParameterGroup": r"[a-z](?:-?[a-z0-9]){0,254}",
    "aws:rds/instance:Instance": RDS_IDENTIFIER,
}


def answer_problems(typ: str, ident: str, outputs: dict[str, Any], region: str = REGION) -> list[str]:
    """What is wrong with the id and outputs the mocks answered for one resource of type ``typ``."""
    problems = []
    expected = ID_FORMATS.get(typ)
    if expected is None:
        problems.append(f"{typ}: no id format in this test: add pulumi-aws's id of the type")
    elif expected == "ARN":
        problem = arn_problem(ident, region) if ident.startswith("arn:") else "not an ARN"
        if problem:
            problems.append(f"{typ} id {ident}: {problem}")
    elif expected == "URL":
        if not url_patterns(region, ACCOUNT_ID)["SQS queue URL"].fullmatch(ident):
            problems.append(f"{typ} id {ident}: not a queue URL")
    elif not re.fullmatch(expected, ident):
        problems.append(f"{typ} id {ident!r}: not {expected}")
    for path, arn in arns(outputs):
        if problem := arn_problem(arn, region):
            problems.append(f"{typ} output{path} {arn}: {problem}")
        elif "*" in arn or "?" in arn:
            problems.append(f"{typ} output{path} {arn}: a wildcard in a resource's own ARN")
    for path, text in strings(outputs):
        if problem := identifier_problem(text, region, ACCOUNT_ID):
            problems.append(f"{typ} output{path} {text}: {problem}")
    bucket = outputs.get("bucket")
    if typ.startswith("aws:s3/") and isinstance(bucket, str) and (problem := bucket_name_problem(bucket)):
        problems.append(f"{typ} output .bucket: {problem}")
    return problems


def test_every_id_and_output_the_mocks_answered_for_the_dev_stack_has_its_types_format(dev_program):
    declared = [r for r in dev_program.resources if r.custom and not r.typ.startswith("pulumi:providers:")]
    assert len(declared) > 100
    problems = [p for r in declared for p in answer_problems(r.typ, r.id, r.outputs)]
    problems += [f"stack output{path} {arn}: {p}" for path, arn in arns(dev_program.outputs) if (p := arn_problem(arn))]
    problems += [
        f"stack output{path} {t}: {p}" for path, t in strings(dev_program.outputs) if (p := identifier_problem(t))
    ]
    assert problems == []


def test_auto_named_buckets_get_pulumis_seven_hex_suffix(dev_program):
    buckets = [r for r in dev_program.of_type("aws:s3/bucket:Bucket") if "bucket" not in r.inputs]
    assert buckets
    for bucket in buckets:
        assert re.fullmatch(rf"{re.escape(bucket.name.lower())}-[0-9a-f]{{7}}", bucket.id), bucket.id
        assert bucket_name_problem(bucket.id) is None


def test_distinct_resources_get_distinct_identifiers(dev_program):
    declared = [r for r in dev_program.resources if r.custom and not r.typ.startswith("pulumi:providers:")]
    by_type: dict[str, list[str]] = {}
    for r in declared:
        by_type.setdefault(r.typ, []).append(r.id)
    shared = {t: ids for t, ids in by_type.items() if len(ids) != len(set(ids))}
    # A stage's id is its name, unique only within its API (every HTTP API here has one "$default").
    assert shared.keys() <= {"aws:apigatewayv2/stage:Stage"}
    owned = [r.outputs["arn"] for r in declared if "arn" in r.outputs and not r.typ.endswith("Policy:TopicPolicy")]
    assert len(owned) == len(set(owned))


def _every_type() -> list[str]:
    """Each type the program may declare: the sandbox emulates each (and the hardening tests build more)."""
    extra = {
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:cloudwatch/eventConnection:EventConnection",
        "aws:scheduler/scheduleGroup:ScheduleGroup",
        "aws:ec2/networkAcl:NetworkAcl",
    }
    return sorted(set(TRANSLATORS) | extra)


# Inputs that change the format: names given, paths, FIFO, another event bus, streams, prefixes.
VARIANT_INPUTS = [
    ("aws:iam/role:Role", {"name": "fn", "path": "/sw-dev/radar/"}),
    ("aws:iam/policy:Policy", {"path": "/sw-dev/"}),
    ("aws:iam/rolePolicy:RolePolicy", {"role": "radar-sfn-role-9d4e89b"}),
    ("aws:sns/topic:Topic", {"fifoTopic": True}),
    ("aws:sqs/queue:Queue", {"name": "sw-dev-dlq.fifo", "fifoQueue": True}),
    ("aws:cloudwatch/eventRule:EventRule", {"eventBusName": "sw-dev-bus"}),
    ("aws:dynamodb/table:Table", {"name": "sw-dev-runs", "streamEnabled": True}),
    ("aws:s3/bucket:Bucket", {"bucketPrefix": "sw-dev-uploads-"}),
    ("aws:scheduler/schedule:Schedule", {"groupName": "sw-dev"}),
    ("aws:apigatewayv2/stage:Stage", {"apiId": "a1b2c3d4e5", "name": "v1"}),
    ("aws:ec2/route:Route", {"routeTableId": "rtb-0123456789abcdef0", "destinationCidrBlock": "10.0.0.0/8"}),
    ("aws:lambda/function:Function", {"name": "sw-dev-f", "publish": True}),
    ("aws:rds/instance:Instance", {"identifier": "Sw-Dev-DB", "port": 5433}),
]


@pytest.mark.parametrize("typ", _every_type())
def test_the_mocks_answer_aws_identifiers_for_every_type_the_program_may_declare(typ):
    from infra.sandbox.aws_identifiers import FORMATS

    assert typ in FORMATS, f"{typ}: the mocks have no identifier format for it"
    ident, outputs = synthetic_outputs(typ, "sw-dev-Example_Resource", {})
    assert answer_problems(typ, ident, outputs) == []
    assert synthetic_outputs(typ, "sw-dev-Example_Resource", {}) == (ident, outputs)  # deterministic
    assert synthetic_outputs(typ, "sw-dev-other", {})[0] != ident


@pytest.mark.parametrize(("typ", "inputs"), VARIANT_INPUTS, ids=[t for t, _ in VARIANT_INPUTS])
def test_the_mocks_follow_the_inputs_that_change_an_identifiers_format(typ, inputs):
    ident, outputs = synthetic_outputs(typ, "example", inputs)
    assert answer_problems(typ, ident, outputs) == []
    if "fifo" in json.dumps(inputs).lower():
        assert (outputs.get("name") or "").endswith(".fifo") and not outputs["name"].endswith(".fifo.fifo")


def test_the_issues_examples_now_have_aws_formats():
    _, key = synthetic_outputs("aws:kms/key:Key", "radar-key", {})
    assert re.fullmatch(rf"arn:aws:kms:us-west-2:123456789012:key/{UUID}", key["arn"])
    secret_arn, secret = synthetic_outputs("aws:secretsmanager/secret:Secret", "radar-cloudflare-token", {})
    name = physical_name("radar-cloudflare-token", 256)
    assert secret["name"] == name
    assert re.fullmatch(rf"arn:aws:secretsmanager:us-west-2:123456789012:secret:{name}-[A-Za-z0-9]{{6}}", secret_arn)
    _, fn = synthetic_outputs("aws:lambda/function:Function", "f", {"name": "sw-dev-f"})
    assert fn["invokeArn"] == (
        "arn:aws:apigateway:us-west-2:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-west-2:123456789012:function:sw-dev-f/invocations"
    )
    _, api = synthetic_outputs("aws:apigatewayv2/api:Api", "api", {"protocolType": "HTTP"})
    assert api["apiEndpoint"] == f"https://{api['arn'].rsplit('/', 1)[1]}.execute-api.us-west-2.amazonaws.com"


def test_a_stack_in_another_region_gets_every_arn_in_that_region():
    config = {**load_stack_file("dev"), "aws:region": "eu-central-1"}
    program = run_program(RecordingMocks(region="eu-central-1"), config, stack="dev")
    declared = [r for r in program.resources if r.custom and not r.typ.startswith("pulumi:providers:")]
    problems = [p for r in declared for p in answer_problems(r.typ, r.id, r.outputs, region="eu-central-1")]
    assert problems == []
    documents = {f"{r.typ} {r.name}": r.inputs for r in declared}
    assert arn_problems(documents, region="eu-central-1") == []


def test_synth_writes_the_same_files_on_every_run(synth_out, tmp_path):
    # Identifiers are derived, not random, and resources are listed by type and name (the order
    # the program's outputs resolve in varies between runs): two synths diff cleanly.
    assert cli_main(["synth", "--out", str(tmp_path)]) == 0
    assert synth_files(tmp_path) == synth_files(synth_out)


def test_an_s3_trigger_names_its_rule_by_an_events_arn_in_the_trust_policy_it_synthesizes():
    # No dev pipeline has an S3 trigger yet: declare one the way test_synth_and_triggers does.
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="stepworks", stack="test", preview=False)
    machine = "arn:aws:states:us-west-2:123456789012:stateMachine:sw-test-uploads"

    @pulumi.runtime.test
    def declare():
        runtime = FunctionRuntime("python3.12", "x86_64", "INFO", None, [])
        owner = PipelineOwner(StackContext("sw-test", REGION, ACCOUNT_ID, 30, runtime), "uploads")
        return S3ObjectCreated(
            "uploads", S3ObjectCreatedArgs(owner, machine, "sw-test-uploads-1a2b3c4", "in/")
        ).rule.arn

    declare()
    (rule,) = mocks.of_type("aws:cloudwatch/eventRule:EventRule")
    assert rule.outputs["arn"] == f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule.id}"
    documents = {f"{r.typ} {r.name}": r.inputs for r in mocks.resources if r.custom}
    assert arn_problems(documents) == []
    problems = [p for r in mocks.resources if r.custom for p in answer_problems(r.typ, r.id, r.outputs)]
    assert problems == []
