"""Customer-managed keys: their own hardening, and KMS permissions on both sides (key policy and IAM).

Which resources must be under such a key is ``at_rest``'s. The sandbox enforces no KMS permission
and no key policy, so these rules are what stands between a green test run and an
``AccessDeniedException`` in AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from infra.hardening import policy as p
from infra.hardening.index import (
    BUCKET,
    KEY,
    METRIC_ALARM,
    QUEUE,
    ROLE,
    TABLE,
    TOPIC,
    Index,
    get,
)
from infra.hardening.model import RuleSet
from infra.sandbox.mocks import DeclaredResource

RULES = RuleSet()

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"

Problems = Iterator[tuple[DeclaredResource, str]]


def account_root(ix: Index) -> str:
    """``arn:aws:iam::<account>:root``: the account as a principal."""
    return f"arn:aws:iam::{ix.account_id}:root"


def is_account_principal(ix: Index, principal: str) -> bool:
    """The account itself as a principal (its root ARN or its bare id)."""
    return principal in (account_root(ix), ix.account_id)


def _sid(statement: dict) -> str:
    return str(statement.get("Sid") or "(no Sid)")


# -- keys -------------------------------------------------------------------------------------


@RULES.rule(
    "SW-KMS1",
    "key rotation",
    "Every KMS key rotates its key material (enableKeyRotation).",
    (KEY,),
)
def key_rotation(ix: Index) -> Problems:
    for key in ix.of_type(KEY):
        if get(key, "enableKeyRotation") is not True:
            yield key, "enableKeyRotation is not true: the key material never rotates"


@RULES.rule(
    "SW-KMS2",
    "explicit key policy with account administration",
    "Every KMS key has an explicit policy whose account-administration statement (Principal the account root, "
    "no condition) allows kms:PutKeyPolicy and the other administration actions but no usage action "
    "(Encrypt, Decrypt, GenerateDataKey …): the account manages the key, only named principals use it.",
    (KEY,),
)
def key_policy_administration(ix: Index) -> Problems:
    for key in ix.of_type(KEY):
        document = p.load(key.inputs.get("policy"))
        if document is None:
            message = (
                "no explicit key policy: AWS's default policy gives kms:* to the account root, so any IAM policy "
                "in the account can decrypt with the key"
            )
            yield key, message
            continue
        admin = [s for s in p.statements(document) if p.allows(s) and _unconditioned_account(ix, s)]
        if not any(p.covers(s, "kms:PutKeyPolicy") for s in admin):
            message = (
                f"no account-administration statement (Principal AWS {account_root(ix)}, kms:PutKeyPolicy among "
                "its actions): nobody could change the key policy after deploy"
            )
            yield key, message
        for statement in admin:
            usage = p.usage_patterns(statement)
            if usage:
                message = (
                    f"statement {_sid(statement)} gives the account root usage actions {', '.join(usage)}: any "
                    "principal an IAM policy allows could use the key; keep administration and usage apart"
                )
                yield key, message


def _unconditioned_account(ix: Index, statement: dict) -> bool:
    return not statement.get("Condition") and any(is_account_principal(ix, a) for a in p.principals(statement, "AWS"))


def _confined_to_account(ix: Index, statement: dict) -> bool:
    principal_arns = p.condition_values(statement, "aws:PrincipalArn")
    if principal_arns and all(_arn_account(v) == ix.account_id for v in principal_arns):
        return True
    callers = p.condition_values(statement, "kms:CallerAccount")
    via = p.condition_values(statement, "kms:ViaService")
    return bool(callers) and all(c == ix.account_id for c in callers) and bool(via)


def _service_conditioned(ix: Index, statement: dict) -> bool:
    keys = p.condition_keys(statement)
    accounts = p.condition_values(statement, "aws:SourceAccount")
    if accounts and any(a != ix.account_id for a in accounts):
        return False
    return bool(accounts) or "aws:sourcearn" in keys or any(k.startswith("kms:encryptioncontext:") for k in keys)


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


@RULES.rule(
    "SW-KMS3",
    "key usage only for confined principals",
    "No key policy grants a usage action to '*', to the account or to a service without a condition confining "
    "the caller: pipeline roles by aws:PrincipalArn (this account), account callers only through an AWS service "
    "(kms:ViaService + kms:CallerAccount), service principals by aws:SourceAccount/aws:SourceArn or an "
    "encryption-context condition; an explicit principal must be of this account.",
    (KEY,),
)
def key_usage_confined(ix: Index) -> Problems:
    for key in ix.of_type(KEY):
        for statement in ix.key_statements(key):
            if not p.allows(statement):
                continue
            usage = p.usage_patterns(statement)
            if not usage:
                continue
            sid = _sid(statement)
            if "NotPrincipal" in statement:
                yield key, f"statement {sid} grants usage with NotPrincipal (everyone but the named principals)"
            aws = p.principals(statement, "AWS")
            broad = [a for a in aws if a == "*" or is_account_principal(ix, a)]
            for other in (a for a in aws if a not in broad and _arn_account(a) != ix.account_id):
                yield key, f"statement {sid} grants usage to {other}, a principal outside account {ix.account_id}"
            if broad and not _confined_to_account(ix, statement):
                message = (
                    f"statement {sid} grants {', '.join(usage)} to {', '.join(broad)} without a condition confining "
                    "the caller (aws:PrincipalArn in this account, or kms:ViaService with kms:CallerAccount)"
                )
                yield key, message
            services = p.principals(statement, "Service")
            if services and not _service_conditioned(ix, statement):
                message = (
                    f"statement {sid} grants {', '.join(usage)} to {', '.join(services)} without aws:SourceAccount "
                    "(this account), aws:SourceArn or an encryption-context condition"
                )
                yield key, message
            if p.principals(statement, "Federated"):
                yield key, f"statement {sid} grants usage to a federated principal"


def key_admits_role(ix: Index, key: DeclaredResource, role: DeclaredResource, action: str) -> bool:
    """The key policy lets ``role`` call ``action`` directly: named, or matched by an aws:PrincipalArn pattern."""
    role_arn = ix.role_arn(role)
    for statement in ix.key_statements(key):
        if not (p.allows(statement) and p.covers(statement, action)):
            continue
        if not p.resource_matches(statement, ix.key_arn(key)) or "kms:viaservice" in p.condition_keys(statement):
            continue
        aws = p.principals(statement, "AWS")
        if any(ix.refers_to_role(a, role) for a in aws):
            return True
        if any(a == "*" or is_account_principal(ix, a) for a in aws):
            if p.condition_admits(statement, "aws:PrincipalArn", role_arn):
                return True
    return False


def _keys_named(ix: Index, statement: dict) -> list[DeclaredResource]:
    return [
        key
        for key in ix.of_type(KEY)
        if any(r != "*" and p.arn_like(r, ix.key_arn(key)) for r in p.resources(statement))
    ]


@RULES.rule(
    "SW-KMS4",
    "key policy admits the roles granted its use",
    "Every role whose policy grants it a usage action on a declared key is admitted to that action by the key's "
    "policy, by name or by an aws:PrincipalArn pattern matching the role's ARN with its path (IAM and the key "
    "policy must both allow a call; the sandbox checks neither).",
    (ROLE,),
)
def key_admits_granted_roles(ix: Index) -> Problems:
    for role in ix.of_type(ROLE):
        for statement in ix.role_statements(role):
            granted = [a for a in p.KMS_USAGE_ACTIONS if p.covers(statement, a)]
            if not granted:
                continue
            for key in _keys_named(ix, statement):
                missing = [a for a in granted if not key_admits_role(ix, key, role, a)]
                if missing:
                    message = (
                        f"role {role.name} ({ix.role_arn(role)}) is granted {', '.join(missing)} on this key by its "
                        "policy, but the key policy admits it to none of them (no statement names the role or "
                        "matches its ARN with an aws:PrincipalArn pattern)"
                    )
                    yield key, message


# -- a grant on an encrypted resource carries its key ------------------------------------------


@dataclass(frozen=True)
class Encrypted:
    """A resource encrypted under a declared key, and the service that calls KMS for it."""

    resource: DeclaredResource
    arn: str
    key: DeclaredResource
    service: str


# Which KMS actions a caller needs on the resource's key, per data action. IAM and the key policy
# are evaluated for the caller's own request: the service calls KMS on the caller's behalf.
#  - DynamoDB (Developer Guide, "Encryption at rest: how it works", table keys; and AWS CDK's
#    Table.grantReadData/grantWriteData, which add these key actions for a customer-managed key):
#    every request decrypts the table key (kms:Decrypt); writes also need kms:GenerateDataKey*.
#  - S3 (User Guide, "Using SSE-KMS": permissions): GetObject needs kms:Decrypt, PutObject
#    kms:GenerateDataKey (a multipart upload needs kms:Decrypt too).
#  - SNS ("Encryption at rest: key management"): a publisher needs kms:GenerateDataKey* and kms:Decrypt.
#  - SQS ("Key management"): a producer needs kms:GenerateDataKey and kms:Decrypt; a consumer kms:Decrypt.
#  - Secrets Manager ("Secret encryption and decryption"): GetSecretValue needs kms:Decrypt;
#    storing a value needs kms:GenerateDataKey (and kms:Decrypt, to re-check the key).
_DECRYPT = ("kms:Decrypt",)
_WRITE = ("kms:Decrypt", "kms:GenerateDataKey")
_DYNAMODB_READS = (
    "GetItem", "BatchGetItem", "Query", "Scan", "ConditionCheckItem", "PartiQLSelect", "GetRecords",
)  # fmt: skip
_DYNAMODB_WRITES = (
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete",
)  # fmt: skip
KEY_ACTIONS_FOR: dict[str, dict[str, tuple[str, ...]]] = {
    "dynamodb": {
        **{f"dynamodb:{a}": _DECRYPT for a in _DYNAMODB_READS},
        **{f"dynamodb:{a}": _WRITE for a in _DYNAMODB_WRITES},
    },
    "s3": {
        "s3:GetObject": _DECRYPT,
        "s3:GetObjectVersion": _DECRYPT,
        "s3:PutObject": ("kms:GenerateDataKey",),
    },
    "sns": {"sns:Publish": ("kms:GenerateDataKey", "kms:Decrypt")},
    "sqs": {
        "sqs:SendMessage": ("kms:GenerateDataKey", "kms:Decrypt"),
        "sqs:ReceiveMessage": _DECRYPT,
    },
    "secretsmanager": {
        "secretsmanager:GetSecretValue": _DECRYPT,
        "secretsmanager:PutSecretValue": _WRITE,
        "secretsmanager:UpdateSecret": _WRITE,
    },
}
# The encryption-context key each service sets on its KMS requests: a kms grant conditioned on
# another context key never applies to that service's requests.
CONTEXT_KEYS = {
    "dynamodb": ("kms:encryptioncontext:aws:dynamodb:tablename", "kms:encryptioncontext:aws:dynamodb:subscriberid"),
    "s3": ("kms:encryptioncontext:aws:s3:arn",),
    "sns": ("kms:encryptioncontext:aws:sns:topicarn",),
    "sqs": ("kms:encryptioncontext:aws:sqs:arn",),
    "secretsmanager": ("kms:encryptioncontext:secretarn", "kms:encryptioncontext:secretversionid"),
}


def encrypted_resources(ix: Index) -> list[Encrypted]:
    """Every table, bucket, topic, queue and secret encrypted under a declared key."""
    found = []
    for table in ix.of_type(TABLE):
        key = ix.key(get(table, "serverSideEncryption", "kmsKeyArn"))
        if key is not None and get(table, "serverSideEncryption", "enabled") is True:
            found.append(Encrypted(table, str(table.outputs.get("arn") or table.id), key, "dynamodb"))
    for bucket in ix.of_type(BUCKET):
        for rule in ix.sse_rules(bucket):
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            default = default[0] if isinstance(default, list) and default else default
            key = ix.key(default.get("kmsMasterKeyId")) if isinstance(default, dict) else None
            if key is not None and str(default.get("sseAlgorithm", "")).startswith("aws:kms"):
                found.append(Encrypted(bucket, ix.bucket_arn(bucket), key, "s3"))
    for typ, service in ((TOPIC, "sns"), (QUEUE, "sqs")):
        for resource in ix.of_type(typ):
            key = ix.key(get(resource, "kmsMasterKeyId"))
            if key is not None:
                found.append(Encrypted(resource, str(resource.outputs.get("arn") or resource.id), key, service))
    for resource, arn, key_ref in ix.secrets():
        key = ix.key(key_ref)
        if key is not None:
            found.append(Encrypted(resource, arn, key, "secretsmanager"))
    return found


def touches(pattern: str, target: Encrypted) -> bool:
    """A Resource pattern names ``target`` (for S3: objects of the bucket; for DynamoDB: the table or its indexes)."""
    if pattern == "*":
        return False  # a wildcard resource is SW-IAM5's finding, not a grant on this resource
    if target.service == "s3":
        bucket_part, slash, _ = pattern.partition("/")
        return bool(slash) and p.arn_like(bucket_part, target.arn)
    if target.service == "dynamodb":
        return p.arn_like(pattern, target.arn) or pattern.startswith(f"{target.arn}/")
    return p.arn_like(pattern, target.arn)


def applies_to_service(ix: Index, statement: dict, service: str) -> bool:
    """A kms statement's conditions let it apply to requests ``service`` makes for the caller."""
    for key in p.condition_keys(statement):
        if key.startswith("kms:encryptioncontext:") and key not in CONTEXT_KEYS[service]:
            return False
    via = p.condition_values(statement, "kms:ViaService")
    return not via or any(p.glob_match(v, f"{service}.{ix.region}.amazonaws.com") for v in via)


def role_has_key_action(ix: Index, role: DeclaredResource, target: Encrypted, action: str) -> bool:
    """The role's policies allow ``action`` on the target's key for requests the target's service makes."""
    key_arn = ix.key_arn(target.key)
    return any(
        p.covers(s, action) and p.resource_matches(s, key_arn) and applies_to_service(ix, s, target.service)
        for s in ix.role_statements(role)
    )


@RULES.rule(
    "SW-KMS5",
    "grants on encrypted resources carry their key",
    "Every role granted a data action on a resource encrypted under a declared key (table reads: kms:Decrypt; "
    "table writes: kms:Decrypt + kms:GenerateDataKey; sns:Publish and sqs:SendMessage: kms:GenerateDataKey + "
    "kms:Decrypt; s3:GetObject: kms:Decrypt; s3:PutObject: kms:GenerateDataKey; secretsmanager:GetSecretValue: "
    "kms:Decrypt) is also granted those actions on that key, usable by that service.",
    (ROLE,),
)
def grants_carry_key(ix: Index) -> Problems:
    targets = encrypted_resources(ix)
    for role in ix.of_type(ROLE):
        for policy_resource, document in ix.role_policies(role):
            for statement in p.statements(document):
                if not p.allows(statement):
                    continue
                for target in targets:
                    if not any(touches(r, target) for r in p.resources(statement)):
                        continue
                    for action, key_actions in KEY_ACTIONS_FOR[target.service].items():
                        if not p.covers(statement, action):
                            continue
                        missing = [k for k in key_actions if not role_has_key_action(ix, role, target, k)]
                        if missing:
                            message = (
                                f"{action} on {target.resource.name} (encrypted with key {target.key.name}) needs "
                                f"{', '.join(missing)} on that key, which role {role.name} is not granted"
                            )
                            yield policy_resource, message


@dataclass(frozen=True)
class ServiceSend:
    """A service principal that writes into a resource on the program's behalf."""

    declared_by: DeclaredResource
    principal: str
    target_arn: str
    source_arn: str | None


def _event_rule_arn(ix: Index, target: DeclaredResource) -> str | None:
    rule = ix.find(EVENT_RULE, get(target, "rule"))
    if rule is None:
        return None
    name = rule.inputs.get("name") or rule.outputs.get("name") or rule.id
    bus = get(rule, "eventBusName")
    path = f"rule/{bus}/{name}" if bus and bus != "default" else f"rule/{name}"
    return f"arn:aws:events:{ix.region}:{ix.account_id}:{path}"


def service_sends(ix: Index) -> list[ServiceSend]:
    """EventBridge targets and dead-letter queues, S3 notifications, SNS-to-SQS subscriptions, alarm actions."""
    sends = []
    for target in ix.of_type(EVENT_TARGET):
        source = _event_rule_arn(ix, target)
        for arn in (get(target, "arn"), get(target, "deadLetterConfig", "arn")):
            if isinstance(arn, str):
                sends.append(ServiceSend(target, "events.amazonaws.com", arn, source))
    for notification in ix.of_type(BUCKET_NOTIFICATION):
        bucket = ix.bucket(get(notification, "bucket"))
        source = ix.bucket_arn(bucket) if bucket is not None else None
        for block, field in (("queues", "queueArn"), ("topics", "topicArn")):
            for entry in p.as_list(get(notification, block)):
                if isinstance(entry, dict) and isinstance(entry.get(field), str):
                    sends.append(ServiceSend(notification, "s3.amazonaws.com", entry[field], source))
    for subscription in ix.of_type(TOPIC_SUBSCRIPTION):
        if get(subscription, "protocol") == "sqs" and isinstance(get(subscription, "endpoint"), str):
            topic = get(subscription, "topic")
            source = topic if isinstance(topic, str) else None
            sends.append(ServiceSend(subscription, "sns.amazonaws.com", get(subscription, "endpoint"), source))
    for alarm in ix.of_type(METRIC_ALARM):
        actions = [*p.as_list(get(alarm, "alarmActions")), *p.as_list(get(alarm, "okActions"))]
        for arn in dict.fromkeys(a for a in actions if isinstance(a, str)):
            sends.append(ServiceSend(alarm, "cloudwatch.amazonaws.com", arn, ix.alarm_arn(alarm)))
    return sends


def key_admits_service(ix: Index, key: DeclaredResource, send: ServiceSend, action: str) -> bool:
    """The key policy lets the service principal call ``action`` for this send."""
    for statement in ix.key_statements(key):
        if not (p.allows(statement) and p.covers(statement, action)):
            continue
        if send.principal not in p.principals(statement, "Service"):
            continue
        if not p.resource_matches(statement, ix.key_arn(key)):
            continue
        if p.condition_admits(statement, "aws:SourceAccount", ix.account_id) is False:
            continue
        if send.source_arn and p.condition_admits(statement, "aws:SourceArn", send.source_arn) is False:
            continue
        return True
    return False


@RULES.rule(
    "SW-KMS6",
    "key policy admits services sending to encrypted queues and topics",
    "When a service principal writes into a queue or topic under a declared key (an EventBridge target or "
    "dead-letter queue, an S3 notification, an SNS subscription, a CloudWatch alarm's actions), that key's policy "
    "allows the principal kms:GenerateDataKey and kms:Decrypt, with any aws:SourceAccount/aws:SourceArn condition "
    "admitting the sender.",
    (EVENT_TARGET, BUCKET_NOTIFICATION, TOPIC_SUBSCRIPTION, METRIC_ALARM),
)
def key_admits_service_senders(ix: Index) -> Problems:
    targets = {t.arn: t for t in encrypted_resources(ix) if t.service in ("sns", "sqs")}
    for send in service_sends(ix):
        target = targets.get(send.target_arn)
        if target is None:
            continue
        missing = [a for a in ("kms:GenerateDataKey", "kms:Decrypt") if not key_admits_service(ix, target.key, send, a)]
        if missing:
            message = (
                f"{send.principal} sends to {target.resource.name}, encrypted with key {target.key.name}, whose "
                f"policy does not allow it {', '.join(missing)}"
                + (f" for source {send.source_arn}" if send.source_arn else "")
            )
            yield send.declared_by, message
