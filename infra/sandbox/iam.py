"""IAM in the sandbox: an operator identity, moto's enforcement on, every role assumed as its service would.

In AWS nothing runs without credentials: a person deploys and inspects with their own, a function
runs with temporary credentials of its execution role (assumed by Lambda), a state machine's
direct integrations with its role's (assumed by Step Functions), a trigger with its own role's
(assumed by API Gateway, EventBridge Scheduler). ``SandboxIam`` reproduces that in moto:

- **The operator.** An IAM user with an allow-all inline policy, created before the deploy. Its
  keys are the process's default credentials for the sandbox's lifetime (the environment
  variables, restored on exit); the deploy, the tests' inspections and the sandbox's own calls
  use them.
- **Enforcement.** moto's IAM check is on from the moment the operator exists until exit: every
  request must be signed with keys moto knows, and the caller's policies must allow the action
  (and, through ``iam_emulation``/``iam_resources``, the resource).
- **Assumed roles.** ``assume(role_arn, principal, source_arn)`` evaluates the role's trust policy for
  the service ``principal`` with the request context that service sets (``trust.py``), then calls
  STS AssumeRole as the operator standing in for that service (moto checks the trust policy again,
  through ``iam_emulation``); the temporary credentials are cached per role and session until
  five minutes before they expire. A refused trust raises ``AssumeRoleRefused`` naming the role,
  the service and the failing statement or condition.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin

from infra.sandbox import iam_emulation
from infra.sandbox import trust as trust_policy

OPERATOR_USER = "stepworks-sandbox-operator"
OPERATOR_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
REFRESH_BEFORE = datetime.timedelta(minutes=5)
SESSION_DURATION_S = 3600

LAMBDA = "lambda.amazonaws.com"
STATES = "states.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"
APIGATEWAY = "apigateway.amazonaws.com"

# Mirrors moto's interpreter clients: one attempt, the interpreter owns retries.
_STATE_CLIENT_CONFIG = Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1})


class AssumeRoleRefused(Exception):
    """A service could not assume a role: its trust policy does not admit the service in its request context."""

    def __init__(self, role_arn: str, principal: str, reason: str):
        super().__init__(f"{principal} cannot assume role {role_arn}: {reason}")
        self.role_arn, self.principal, self.reason = role_arn, principal, reason


@dataclass(frozen=True)
class Denial:
    """One refusal the sandbox's IAM made: who asked, for what, on what, and why."""

    principal: str
    action: str
    resource: str
    reason: str

    def __str__(self) -> str:
        return f"{self.principal}: {self.action} on {self.resource} ({self.reason})"


@dataclass(frozen=True)
class RoleCredentials:
    """Temporary credentials of one assumed role (or the operator's keys, without token or expiry)."""

    access_key: str
    secret_key: str
    token: str | None = None
    expiration: datetime.datetime | None = None
    arn: str = ""

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for a function's execution role."""
        variables = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        if self.token:
            variables["AWS_SESSION_TOKEN"] = self.token
        return variables

    def client(self, service: str, region: str, config: Config | None = None):
        """A boto3 client signing with these credentials (the default session only lends its loaders)."""
        return boto3.client(
            service,
            region_name=region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.token,
            config=config,
        )

    def fresh(self, now: datetime.datetime) -> bool:
        return self.expiration is None or self.expiration - now > REFRESH_BEFORE


# The sandbox whose IAM is in force (the Lambda runtime and the interpreter's clients look here).
ACTIVE: SandboxIam | None = None


def active() -> SandboxIam | None:
    """The running sandbox's IAM, or None outside a sandbox."""
    return ACTIVE


class SandboxIam:
    """The operator, the enforcement switch and role assumption for one sandbox (see module doc)."""

    def __init__(self, region: str, enforce: bool = True):
        self.region = region
        self.enforce = enforce
        self.operator: RoleCredentials | None = None
        self.account = ""
        self._cache: dict[tuple[str, str, str, str], RoleCredentials] = {}
        self._clients: dict[tuple[str, str, str, int], Any] = {}
        # Every refusal, in order: an end-to-end failure caused by a missing grant names it.
        self.denials: list[Denial] = []
        self._lock = threading.RLock()
        self._cleanup: contextlib.ExitStack | None = None

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> SandboxIam:
        """Create the operator, make it the default credentials, turn enforcement on (moto must be started)."""
        global ACTIVE
        if ACTIVE is not None:
            raise RuntimeError("a sandbox is already running in this process; its IAM is process-wide")
        with contextlib.ExitStack() as cleanup:
            self.operator = self._create_operator()
            cleanup.enter_context(_default_credentials(self.operator))
            self.account = self.client("sts").get_caller_identity()["Account"]
            if self.enforce:
                cleanup.enter_context(_enforcement())
            cleanup.callback(iam_emulation.install(self._state_client, self._record_denial))
            ACTIVE = self

            def deactivate() -> None:
                global ACTIVE
                ACTIVE = None

            cleanup.callback(deactivate)
            self._cleanup = cleanup.pop_all()
        return self

    def stop(self) -> None:
        """Undo everything ``start`` did, in reverse order, each step even if another fails."""
        if self._cleanup is not None:
            cleanup, self._cleanup = self._cleanup, None
            cleanup.close()

    def record_denial(self, principal: str, action: str, resource: str, reason: str) -> None:
        """Record a refusal the sandbox decided itself (a resource policy a service principal fails)."""
        self._record_denial(principal, action, resource, reason)

    def _record_denial(self, principal: str, action: str, resource: str, reason: str) -> None:
        with self._lock:
            self.denials.append(Denial(principal, action, resource, reason))

    def _create_operator(self) -> RoleCredentials:
        iam = boto3.client("iam", region_name=self.region)
        user = iam.create_user(UserName=OPERATOR_USER)["User"]
        iam.put_user_policy(UserName=OPERATOR_USER, PolicyName="operator", PolicyDocument=json.dumps(OPERATOR_POLICY))
        key = iam.create_access_key(UserName=OPERATOR_USER)["AccessKey"]
        return RoleCredentials(key["AccessKeyId"], key["SecretAccessKey"], arn=user["Arn"])

    # -- the operator ---------------------------------------------------------------------------------------

    def client(self, service: str):
        """A client of the emulator signed as the operator (clients are thread-safe; sessions are not)."""
        return self.client_for(self.operator, service, self.region)

    def client_for(self, credentials: RoleCredentials, service: str, region: str, config: Config | None = None):
        """A client signing with ``credentials``, created once per credentials, service and region."""
        key = (credentials.access_key, service, region, id(config))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = credentials.client(service, region, config)
            return client

    # -- assuming roles ---------------------------------------------------------------------------------------

    def check_trust(self, role_arn: str, principal: str, source_arn: str | None = None) -> trust_policy.Decision:
        """May ``principal`` assume ``role_arn`` with the request context it sets (read as the operator)?"""
        return role_trust(self.client("iam"), self.account, role_arn, principal, source_arn)

    def assume(
        self, role_arn: str, principal: str, source_arn: str | None = None, session_name: str | None = None
    ) -> RoleCredentials:
        """Temporary credentials of ``role_arn`` as ``principal`` gets them; AssumeRoleRefused if its trust refuses."""
        if not role_arn:
            self._record_denial(principal, "sts:AssumeRole", "(none)", "no role is configured")
            raise AssumeRoleRefused("(none)", principal, "no role is configured")
        decision = self.check_trust(role_arn, principal, source_arn)
        if not decision.allowed:
            self._record_denial(principal, "sts:AssumeRole", role_arn, decision.reason)
            raise AssumeRoleRefused(role_arn, principal, decision.reason)
        session = (session_name or principal.split(".")[0])[:64]
        key = (role_arn, principal, source_arn or "", session)
        now = datetime.datetime.now(datetime.UTC)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.fresh(now):
                return cached
        context = trust_policy.request_context(principal, self.account, source_arn)
        with iam_emulation.acting_as(self.operator.arn, principal, context) as acting:
            try:
                assumed = self.client("sts").assume_role(
                    RoleArn=role_arn, RoleSessionName=session, DurationSeconds=SESSION_DURATION_S
                )
            except ClientError:
                if acting.decision is not None and not acting.decision.allowed:
                    raise AssumeRoleRefused(role_arn, principal, acting.decision.reason) from None
                raise
        credentials = assumed["Credentials"]
        fresh = RoleCredentials(
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
            credentials["Expiration"],
            assumed["AssumedRoleUser"]["Arn"],
        )
        with self._lock:
            self._cache[key] = fresh
        return fresh

    # -- the state machine's direct integrations ---------------------------------------------------------

    def state_machine_for_role(self, role_arn: str) -> str:
        """The one state machine running with ``role_arn`` (when the interpreter does not say which)."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[self.account][self.region]
        machines = [m.arn for m in backend.state_machines if m.roleArn == role_arn]
        if len(machines) != 1:
            raise AssumeRoleRefused(role_arn, STATES, f"{len(machines)} state machines use the role; which one runs?")
        return machines[0]

    def _state_client(self, region: str, service: str, state_credentials: Any, original):
        if state_credentials is None or not getattr(state_credentials, "role_arn", None):
            return original(region, service, state_credentials)
        role_arn = state_credentials.role_arn
        source_arn = getattr(state_credentials, "state_machine_arn", None) or self.state_machine_for_role(role_arn)
        try:
            credentials = self.assume(role_arn, STATES, source_arn, session_name=source_arn.rsplit(":", 1)[-1])
        except AssumeRoleRefused as refused:
            # What Step Functions reports when it cannot assume the role for a task.
            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDeniedException",
                        "Message": f"Neither the global service principal states.amazonaws.com, nor the regional one "
                        f"is authorized to assume the provided role. ({refused.reason})",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": "sandbox"},
                },
                "AssumeRole",
            ) from None
        return self.client_for(credentials, service, region, _STATE_CLIENT_CONFIG)


def role_trust(
    iam_client, account: str, role_arn: str, principal: str, source_arn: str | None = None
) -> trust_policy.Decision:
    """Whether ``principal`` may assume ``role_arn``: its trust policy read through ``iam_client``, evaluated."""
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam_client.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchEntity":
            return trust_policy.Decision(False, "the role does not exist")
        raise
    if role["Arn"] != role_arn:
        return trust_policy.Decision(False, f"the role named {name} is {role['Arn']}")
    context = trust_policy.request_context(principal, account, source_arn)
    return trust_policy.evaluate(role["AssumeRolePolicyDocument"], principal, context)


@contextlib.contextmanager
def _default_credentials(operator: RoleCredentials) -> Iterator[None]:
    """The operator's keys in the environment (and a fresh default session), restored afterwards."""
    saved = {name: os.environ.get(name) for name in CREDENTIAL_VARIABLES}
    saved_session = boto3.DEFAULT_SESSION
    for name in CREDENTIAL_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(operator.environment())
    boto3.DEFAULT_SESSION = None  # it caches the credentials it resolved first
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.DEFAULT_SESSION = saved_session


@contextlib.contextmanager
def _enforcement() -> Iterator[None]:
    """moto's IAM check on for every request from now on; the previous setting restored afterwards."""
    saved = (moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count)
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = saved
