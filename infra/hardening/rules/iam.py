"""IAM: confused-deputy conditions on trust policies (exactly what each service sets), wildcards, paths."""

from __future__ import annotations

import re
from collections.abc import Iterator

from infra.components.grants import WILDCARD_ONLY_ACTIONS
from infra.components.operator import OPERATOR_TAG
from infra.components.trust import SERVICES
from infra.hardening import policy as p
from infra.hardening.index import MANAGED_POLICY, ROLE, ROLE_POLICY, Index, get
from infra.hardening.model import Exemption, RuleSet, Selector
from infra.sandbox.mocks import DeclaredResource

RULES = RuleSet()

POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
TRUST_TABLE = "infra/components/trust.py SERVICES"
SOURCE_ACCOUNT = "aws:SourceAccount"
SOURCE_ARN = "aws:SourceArn"

Problems = Iterator[tuple[DeclaredResource, str]]


def _entry(principal: str) -> str:
    return f"{TRUST_TABLE}[{principal!r}]"


def _trusted_only_to(principal: str):
    def where(role: DeclaredResource, ix: Index) -> bool:
        statements = ix.trust_statements(role)
        return bool(statements) and all(p.principals(s, "Service") == [principal] for s in statements)

    return where


def _exemptions_for(key_flag: str) -> tuple[Exemption, ...]:
    # One exemption per service the table says does not set the key, with the table's reason.
    return tuple(
        Exemption(
            Selector(ROLE, f"roles assumed by {entry.principal}", where=_trusted_only_to(entry.principal)),
            f"{entry.principal} ({_entry(entry.principal)}): {entry.basis}",
        )
        for entry in SERVICES.values()
        if not getattr(entry, key_flag)
    )


def _operator_role(role: DeclaredResource, ix: Index) -> bool:
    statements = ix.trust_statements(role)
    tagged = OPERATOR_TAG in (get(role, "tags") or {})
    named = all(
        p.principal_kinds(s) == {"AWS"} and s.get("Principal") != "*" and "*" not in p.principals(s, "AWS")
        for s in statements
    )
    return tagged and bool(statements) and named


OPERATORS_ASSUME = Exemption(
    Selector(ROLE, "operator roles (components/operator.py) trusting only the IAM principals the stack names",
             where=_operator_role),
    "people and their CI assume a pipeline's operator role: only the principals stepworks:<pipeline>."
    "operatorPrincipals names may, and what they need to do so (MFA, say) is on their own policies",
)  # fmt: skip


@RULES.rule(
    "SW-IAM1",
    "trusted services are described",
    f"Every role is assumable only by AWS service principals that {TRUST_TABLE} describes (which context "
    "keys each sets when it assumes a role).",
    (ROLE,),
    exemptions=(OPERATORS_ASSUME,),
)
def trusted_services_described(ix: Index) -> Problems:
    for role in ix.of_type(ROLE):
        statements = ix.trust_statements(role)
        if not statements:
            yield role, "no trust policy statement allows anyone to assume it"
        for statement in statements:
            for kind in sorted(p.principal_kinds(statement) - {"Service"}):
                named = ", ".join(p.principals(statement, kind))
                yield role, f"trusts {kind} principals {named}: only AWS service principals are expected"
            for principal in p.principals(statement, "Service"):
                if principal not in SERVICES:
                    message = (
                        f"trusts {principal}, which {TRUST_TABLE} does not describe; add it with the context keys AWS "
                        "documents for it"
                    )
                    yield role, message


def _services(statement: dict) -> list[str]:
    return [s for s in p.principals(statement, "Service") if s in SERVICES]


def _users(ix: Index, role: DeclaredResource, principal: str) -> list[str]:
    """The ARNs the service will put in aws:SourceArn when it assumes ``role`` for the program's resources."""
    region, account = ix.region, ix.account_id
    found: list[str] = []
    if principal == "states.amazonaws.com":
        for machine in ix.of_type("aws:sfn/stateMachine:StateMachine"):
            if ix.refers_to_role(get(machine, "roleArn"), role):
                name = get(machine, "name") or machine.outputs.get("name")
                found.append(f"arn:aws:states:{region}:{account}:stateMachine:{name}")
    elif principal == "scheduler.amazonaws.com":
        for schedule in ix.of_type("aws:scheduler/schedule:Schedule"):
            if ix.refers_to_role(get(schedule, "target", "roleArn"), role):
                group = get(schedule, "groupName") or "default"
                found.append(f"arn:aws:scheduler:{region}:{account}:schedule-group/{group}")
    elif principal == "events.amazonaws.com":
        for target in ix.of_type("aws:cloudwatch/eventTarget:EventTarget"):
            if ix.refers_to_role(get(target, "roleArn"), role):
                rule = ix.find("aws:cloudwatch/eventRule:EventRule", get(target, "rule"))
                if rule is not None:
                    name = get(rule, "name") or rule.outputs.get("name") or rule.id
                    found.append(f"arn:aws:events:{region}:{account}:rule/{name}")
    elif principal == "monitoring.rds.amazonaws.com":
        for instance in ix.of_type("aws:rds/instance:Instance"):
            if ix.refers_to_role(get(instance, "monitoringRoleArn"), role):
                identifier = get(instance, "identifier") or instance.outputs.get("identifier") or instance.id
                found.append(f"arn:aws:rds:{region}:{account}:db:{identifier}")
    elif principal == "vpc-flow-logs.amazonaws.com":
        for flow_log in ix.of_type("aws:ec2/flowLog:FlowLog"):
            if ix.refers_to_role(get(flow_log, "iamRoleArn"), role):
                found.append(f"arn:aws:ec2:{region}:{account}:vpc-flow-log/{flow_log.id}")
    return found


def _trust_conditions(ix: Index, key: str, sets: str) -> Iterator[tuple[DeclaredResource, dict, str, list, str]]:
    """(role, statement, principal, values of ``key``, why it is missing or "") per trusted service."""
    for role in ix.of_type(ROLE):
        for statement in ix.trust_statements(role):
            for principal in _services(statement):
                values = p.condition_values(statement, key)
                missing = ""
                if not values:
                    missing = f"trusts {principal} without an {key} condition"
                    if getattr(SERVICES[principal], sets):
                        missing += f"; {_entry(principal)} says it sets the key"
                yield role, statement, principal, values, missing


@RULES.rule(
    "SW-IAM2",
    "trust conditions on aws:SourceAccount",
    f"Every trust statement of a service that sets aws:SourceAccount ({TRUST_TABLE}) requires it to be this "
    "account (confused-deputy protection).",
    (ROLE,),
    exemptions=_exemptions_for("sets_source_account"),
)
def trust_source_account(ix: Index) -> Problems:
    for role, _, _, values, missing in _trust_conditions(ix, SOURCE_ACCOUNT, "sets_source_account"):
        if missing:
            yield role, missing
        elif any(v != ix.account_id for v in values):
            yield role, f"{SOURCE_ACCOUNT} condition {values} is not this account ({ix.account_id})"


@RULES.rule(
    "SW-IAM3",
    "trust conditions on aws:SourceArn",
    f"Every trust statement of a service that sets aws:SourceArn ({TRUST_TABLE}) requires an ARN (pattern) of "
    "this account that matches every resource of the program the service assumes the role for.",
    (ROLE,),
    exemptions=_exemptions_for("sets_source_arn"),
)
def trust_source_arn(ix: Index) -> Problems:
    for role, statement, principal, values, missing in _trust_conditions(ix, SOURCE_ARN, "sets_source_arn"):
        if missing:
            yield role, missing
            continue
        foreign = [v for v in values if v.split(":")[4:5] != [ix.account_id]]
        if foreign:
            yield role, f"{SOURCE_ARN} {', '.join(foreign)} is not confined to account {ix.account_id}"
        for user in _users(ix, role, principal):
            if not p.condition_admits(statement, SOURCE_ARN, user):
                message = (
                    f"{SOURCE_ARN} condition {values} does not admit {user}, which {principal} assumes the "
                    "role for: every assumption would be denied in AWS"
                )
                yield role, message


@RULES.rule(
    "SW-IAM4",
    "no trust condition on a key the service does not set",
    f"No trust statement conditions on aws:SourceAccount or aws:SourceArn for a service that {TRUST_TABLE} says "
    "does not set that key: such a condition denies every assumption in AWS while the sandbox stays green.",
    (ROLE,),
)
def trust_no_unset_keys(ix: Index) -> Problems:
    flags = {SOURCE_ACCOUNT: "sets_source_account", SOURCE_ARN: "sets_source_arn"}
    for role in ix.of_type(ROLE):
        for statement in ix.trust_statements(role):
            for principal in _services(statement):
                entry = SERVICES[principal]
                for key, flag in flags.items():
                    if p.conditions(statement, key) and not getattr(entry, flag):
                        message = (
                            f"conditions {principal} on {key}, which it does not set ({_entry(principal)}: "
                            f"{entry.basis}): every assumption would be denied in AWS"
                        )
                        yield role, message


def _is_wildcard_resource(resource: str) -> bool:
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[5] in ("*", "")


@RULES.rule(
    "SW-IAM5",
    "no wildcard resource",
    "No identity policy allows an action on '*' (or on every resource of a service) unless the action has no "
    "resource-level permissions; those actions are listed once, in infra/components/grants.py "
    "WILDCARD_ONLY_ACTIONS (X-Ray, Step Functions log delivery, VPC network interfaces).",
    (ROLE_POLICY, ROLE, MANAGED_POLICY),
)
def no_wildcard_resource(ix: Index) -> Problems:
    for resource, document in ix.policy_documents():
        for statement in p.statements(document):
            if not p.allows(statement):
                continue
            sid = statement.get("Sid") or "(no Sid)"
            if "NotResource" in statement:
                yield resource, f"statement {sid} uses NotResource (every resource but the named ones)"
            if any(_is_wildcard_resource(r) for r in p.resources(statement)):
                scoped = [a for a in p.actions(statement) if a not in WILDCARD_ONLY_ACTIONS]
                if scoped:
                    message = (
                        f"statement {sid} allows {', '.join(scoped)} on every resource; only the actions in "
                        "grants.WILDCARD_ONLY_ACTIONS may have '*'"
                    )
                    yield resource, message


@RULES.rule(
    "SW-IAM6",
    "no wildcard action",
    "No identity policy allows a wildcard action (s3:*, kms:Get*) or uses NotAction: each grant names its actions.",
    (ROLE_POLICY, ROLE, MANAGED_POLICY),
)
def no_wildcard_action(ix: Index) -> Problems:
    for resource, document in ix.policy_documents():
        for statement in p.statements(document):
            if not p.allows(statement):
                continue
            sid = statement.get("Sid") or "(no Sid)"
            wild = [a for a in p.actions(statement) if "*" in a or "?" in a]
            if wild:
                yield resource, f"statement {sid} allows wildcard actions {', '.join(wild)}"
            if "NotAction" in statement:
                yield resource, f"statement {sid} uses NotAction (every action but the named ones)"


_PIPELINE_PATH = re.compile(r"^/([^/]+)/([^/]+)/$")


@RULES.rule(
    "SW-IAM7",
    "roles under their pipeline's path",
    "Every role's path is /<prefix>/<pipeline>/ (its pipeline tag when tagged; one prefix per stack): key "
    "policies admit a pipeline's roles by that path.",
    (ROLE,),
)
def role_paths(ix: Index) -> Problems:
    prefixes: dict[str, list[str]] = {}
    for role in ix.of_type(ROLE):
        path = ix.role_path(role)
        match = _PIPELINE_PATH.match(path)
        if match is None:
            yield role, f"path {path!r} is not /<prefix>/<pipeline>/"
            continue
        prefixes.setdefault(match.group(1), []).append(role.name)
        pipeline = (get(role, "tags") or {}).get("pipeline")
        if pipeline and match.group(2) != pipeline:
            yield role, f"path {path!r} is not under its pipeline {pipeline!r}"
    if len(prefixes) > 1:
        common = max(prefixes, key=lambda k: len(prefixes[k]))
        for prefix, names in prefixes.items():
            if prefix != common:
                for role in (r for r in ix.of_type(ROLE) if r.name in names):
                    yield role, f"path prefix {prefix!r} differs from the stack's {common!r}"


# AWS managed policies the program may attach, each with why no inline policy does instead.
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole": (
        "AWS's policy for the RDS enhanced-monitoring role: CloudWatch Logs actions on the RDSOSMetrics log group "
        "only, kept current by AWS"
    ),
}


@RULES.rule(
    "SW-IAM8",
    "no managed policies",
    "Roles get inline policies derived from their grants; no managed policy is attached (role "
    "managedPolicyArns or RolePolicyAttachment), except the AWS service-role policies listed with a reason.",
    (ROLE, POLICY_ATTACHMENT),
    exemptions=tuple(
        Exemption(
            Selector(
                POLICY_ATTACHMENT, f"attachments of {arn}", where=lambda r, ix, arn=arn: get(r, "policyArn") == arn
            ),
            reason,
        )
        for arn, reason in ALLOWED_MANAGED_POLICIES.items()
    ),
)
def no_managed_policies(ix: Index) -> Problems:
    for role in ix.of_type(ROLE):
        for arn in p.as_list(get(role, "managedPolicyArns")):
            yield role, f"managedPolicyArns attaches {arn}; use a RolePolicyAttachment only for a listed AWS policy"
    for attachment in ix.of_type(POLICY_ATTACHMENT):
        yield attachment, f"attaches managed policy {get(attachment, 'policyArn')}"
