"""An index over the resources a program declares: by type, by ARN, a bucket's companions, a role's policies.

Pure: it reads ``DeclaredResource`` inputs (camelCase, as Pulumi passes them) and outputs, and
knows the account and region the program was run for (never constants: the runner is told).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from infra.components.bucket import LOG_BUCKET_TAG
from infra.hardening import policy as p
from infra.sandbox.mocks import DeclaredResource

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
SECRET = "aws:secretsmanager/secret:Secret"
RDS_INSTANCE = "aws:rds/instance:Instance"
TABLE = "aws:dynamodb/table:Table"
TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SSE_CONFIGURATION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


def get(resource: DeclaredResource, *path: str, default: Any = None) -> Any:
    """An input by its camelCase path (``get(r, "loggingConfig", "logGroup")``), secrets unwrapped."""
    value: Any = resource.inputs
    for key in path:
        value = p.plain(value)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = value[0]  # a single nested block Pulumi passes as a one-element list
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    value = p.plain(value)
    return default if value is None else value


def number(value: Any) -> float | None:
    """A numeric input as a number (Pulumi's mock runtime passes every number as a float); else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def strip_stream_suffix(arn: str) -> str:
    """A log group ARN without the ``:*`` some APIs want appended."""
    return arn[:-2] if arn.endswith(":*") else arn


class Index:
    """The declared custom resources of one program run, and the account and region it is for."""

    def __init__(self, resources: Iterable[DeclaredResource], account_id: str, region: str):
        self.resources = [r for r in resources if r.custom]
        self.account_id = account_id
        self.region = region
        self._by_type: dict[str, list[DeclaredResource]] = defaultdict(list)
        self._by_arn: dict[str, DeclaredResource] = {}
        for resource in self.resources:
            self._by_type[resource.typ].append(resource)
            arn = resource.outputs.get("arn")
            if isinstance(arn, str):
                self._by_arn.setdefault(arn, resource)

    # -- generic -----------------------------------------------------------------------------

    def of_type(self, *types: str) -> list[DeclaredResource]:
        """Declared resources of these types, in declaration order."""
        if len(types) == 1:
            return list(self._by_type.get(types[0], []))
        return [r for r in self.resources if r.typ in types]

    def by_arn(self, arn: Any) -> DeclaredResource | None:
        """The resource whose ``arn`` output is ``arn``."""
        return self._by_arn.get(arn) if isinstance(arn, str) else None

    @staticmethod
    def names(resource: DeclaredResource) -> set[str]:
        """Every identifier a reference to ``resource`` may use: id, name, ARN, URL."""
        found = {resource.id} if resource.id else set()
        for key in ("arn", "name", "id", "bucket", "url", "keyId", "identifier"):
            value = resource.outputs.get(key)
            if isinstance(value, str) and value:
                found.add(value)
        given = resource.inputs.get("name")
        if isinstance(given, str) and given:
            found.add(given)
        return found

    def find(self, typ: str, ref: Any) -> DeclaredResource | None:
        """The declared resource of ``typ`` that ``ref`` (an id, name or ARN) refers to."""
        ref = p.plain(ref)
        if not isinstance(ref, str) or not ref:
            return None
        for resource in self.of_type(typ):
            if ref in self.names(resource):
                return resource
        return None

    # -- KMS ---------------------------------------------------------------------------------

    def key(self, ref: Any) -> DeclaredResource | None:
        """The declared KMS key ``ref`` (key ARN, key id, alias name or alias ARN) refers to."""
        found = self.find(KEY, ref)
        if found is not None:
            return found
        ref = p.plain(ref)
        for alias in self.of_type(ALIAS):
            if isinstance(ref, str) and ref in self.names(alias):
                return self.find(KEY, get(alias, "targetKeyId"))
        return None

    def key_arn(self, key: DeclaredResource) -> str:
        """The key's ARN."""
        return str(key.outputs.get("arn") or key.id)

    def key_statements(self, key: DeclaredResource) -> list[dict[str, Any]]:
        """The statements of the key's explicit policy."""
        return p.statements(key.inputs.get("policy"))

    # -- IAM ---------------------------------------------------------------------------------

    def role(self, ref: Any) -> DeclaredResource | None:
        """The declared role ``ref`` (name, id or ARN, with or without its path) refers to."""
        ref = p.plain(ref)
        if not isinstance(ref, str):
            return None
        for role in self.of_type(ROLE):
            if ref in self.names(role) or ref == self.role_arn(role):
                return role
        return None

    def role_name(self, role: DeclaredResource) -> str:
        """The role's name."""
        given = role.inputs.get("name")
        return str(given if isinstance(given, str) and given else role.outputs.get("name") or role.id)

    def role_path(self, role: DeclaredResource) -> str:
        """The role's IAM path (``/`` unless given)."""
        path = get(role, "path")
        return path if isinstance(path, str) and path else "/"

    def role_arn(self, role: DeclaredResource) -> str:
        """The role's ARN as IAM forms it: ``arn:aws:iam::<account>:role<path><name>``."""
        return f"arn:aws:iam::{self.account_id}:role{self.role_path(role)}{self.role_name(role)}"

    def refers_to_role(self, ref: Any, role: DeclaredResource) -> bool:
        """``ref`` (a role ARN input such as a function's ``role``) names ``role``."""
        ref = p.plain(ref)
        return isinstance(ref, str) and (ref in self.names(role) or ref == self.role_arn(role))

    def trust_statements(self, role: DeclaredResource) -> list[dict[str, Any]]:
        """The Allow statements of the role's trust policy."""
        return [s for s in p.statements(role.inputs.get("assumeRolePolicy")) if p.allows(s)]

    def trusted_services(self, role: DeclaredResource) -> set[str]:
        """Service principals the role's trust policy admits."""
        return {svc for s in self.trust_statements(role) for svc in p.principals(s, "Service")}

    def role_policies(self, role: DeclaredResource) -> list[tuple[DeclaredResource, dict[str, Any]]]:
        """``(declaring resource, document)`` of every inline policy of the role."""
        found = []
        for policy in self.of_type(ROLE_POLICY):
            if self.refers_to_role(policy.inputs.get("role"), role):
                document = p.load(policy.inputs.get("policy"))
                if document is not None:
                    found.append((policy, document))
        for inline in p.as_list(get(role, "inlinePolicies")):
            document = p.load(inline.get("policy")) if isinstance(inline, dict) else None
            if document is not None:
                found.append((role, document))
        return found

    def role_statements(self, role: DeclaredResource) -> list[dict[str, Any]]:
        """Every Allow statement of the role's inline policies."""
        return [s for _, doc in self.role_policies(role) for s in p.statements(doc) if p.allows(s)]

    def policy_documents(self) -> list[tuple[DeclaredResource, dict[str, Any]]]:
        """Every identity policy the program declares: inline role policies and customer-managed policies."""
        found = []
        for role in self.of_type(ROLE):
            found += self.role_policies(role)
        for policy in self.of_type(MANAGED_POLICY):
            document = p.load(policy.inputs.get("policy"))
            if document is not None:
                found.append((policy, document))
        return found

    # -- logs --------------------------------------------------------------------------------

    def log_group_name(self, group: DeclaredResource) -> str:
        """The log group's name."""
        given = group.inputs.get("name")
        return str(given if isinstance(given, str) and given else group.outputs.get("name") or group.id)

    def log_group_arn(self, group: DeclaredResource) -> str:
        """``arn:aws:logs:<region>:<account>:log-group:<name>``: the encryption context CloudWatch Logs sets."""
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{self.log_group_name(group)}"

    def log_group(self, ref: Any) -> DeclaredResource | None:
        """The declared log group ``ref`` (name, or ARN with or without ``:*``) refers to."""
        ref = p.plain(ref)
        if not isinstance(ref, str):
            return None
        ref = strip_stream_suffix(ref)
        for group in self.of_type(LOG_GROUP):
            if ref in self.names(group) or ref == self.log_group_arn(group) or ref == self.log_group_name(group):
                return group
        return None

    # -- S3 ----------------------------------------------------------------------------------

    def bucket_name(self, bucket: DeclaredResource) -> str:
        """The bucket's name."""
        for value in (bucket.outputs.get("bucket"), bucket.inputs.get("bucket"), bucket.id):
            if isinstance(value, str) and value:
                return value
        return bucket.name

    def bucket_arn(self, bucket: DeclaredResource) -> str:
        """The bucket's ARN."""
        arn = bucket.outputs.get("arn")
        return arn if isinstance(arn, str) and arn else f"arn:aws:s3:::{self.bucket_name(bucket)}"

    def bucket(self, ref: Any) -> DeclaredResource | None:
        """The declared bucket ``ref`` (name, id or ARN) refers to."""
        ref = p.plain(ref)
        if not isinstance(ref, str):
            return None
        for bucket in self.of_type(BUCKET):
            if ref in self.names(bucket) or ref in (self.bucket_name(bucket), self.bucket_arn(bucket)):
                return bucket
        return None

    def companions(self, bucket: DeclaredResource, typ: str) -> list[DeclaredResource]:
        """The ``typ`` resources configuring ``bucket`` (their ``bucket`` input names it)."""
        return [c for c in self.of_type(typ) if self.bucket(c.inputs.get("bucket")) is bucket]

    @cached_property
    def log_bucket_targets(self) -> Counter:
        """How many other declared buckets log into each bucket (by logical name)."""
        counts: Counter = Counter()
        for logging in self.of_type(BUCKET_LOGGING):
            source, target = self.bucket(logging.inputs.get("bucket")), self.bucket(logging.inputs.get("targetBucket"))
            if target is not None and source is not target:
                counts[target.name] += 1
        return counts

    @cached_property
    def log_bucket(self) -> DeclaredResource | None:
        """The stack's log bucket: the one tagged so (``bucket.LOG_BUCKET_TAG``), else the declared bucket
        the other buckets' server access logs go to."""
        tagged = [b for b in self.of_type(BUCKET) if LOG_BUCKET_TAG in (get(b, "tags") or {})]
        if len(tagged) == 1:
            return tagged[0]
        if not self.log_bucket_targets:
            return None
        best = max(self.log_bucket_targets.values())
        name = sorted(n for n, c in self.log_bucket_targets.items() if c == best)[0]
        return next(b for b in self.of_type(BUCKET) if b.name == name)

    def is_log_bucket(self, bucket: DeclaredResource) -> bool:
        """True for the stack's log bucket."""
        return self.log_bucket is bucket

    def sse_rules(self, bucket: DeclaredResource) -> list[dict[str, Any]]:
        """The default-encryption rules of the bucket."""
        rules = []
        for config in self.companions(bucket, SSE_CONFIGURATION):
            rules += [r for r in p.as_list(get(config, "rules")) if isinstance(r, dict)]
        return rules

    def sse_algorithms(self, bucket: DeclaredResource) -> set[str]:
        """The bucket's default-encryption algorithms (``aws:kms``, ``AES256`` …)."""
        found = set()
        for rule in self.sse_rules(bucket):
            default = rule.get("applyServerSideEncryptionByDefault")
            default = default[0] if isinstance(default, list) and default else default
            if isinstance(default, dict) and default.get("sseAlgorithm"):
                found.add(str(default["sseAlgorithm"]))
        return found

    # -- alarms ------------------------------------------------------------------------------

    def alarm_name(self, alarm: DeclaredResource) -> str:
        """The alarm's name."""
        given = alarm.inputs.get("name")
        return str(given if isinstance(given, str) and given else alarm.outputs.get("name") or alarm.id)

    def alarm_arn(self, alarm: DeclaredResource) -> str:
        """``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``: the source CloudWatch names when it notifies."""
        arn = alarm.outputs.get("arn")
        if isinstance(arn, str) and arn:
            return arn
        return f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:{self.alarm_name(alarm)}"

    # -- secrets -----------------------------------------------------------------------------

    def secrets(self) -> list[tuple[DeclaredResource, str, Any]]:
        """``(declaring resource, secret ARN, key reference)`` of every secret, RDS-managed ones included."""
        found = []
        for secret in self.of_type(SECRET):
            found.append((secret, str(secret.outputs.get("arn") or secret.id), get(secret, "kmsKeyId")))
        for instance in self.of_type(RDS_INSTANCE):
            if get(instance, "manageMasterUserPassword") is True:
                key_ref = get(instance, "masterUserSecretKmsKeyId")
                for managed in p.as_list(instance.outputs.get("masterUserSecrets")):
                    if isinstance(managed, dict) and managed.get("secretArn"):
                        found.append((instance, str(managed["secretArn"]), key_ref))
        return found
