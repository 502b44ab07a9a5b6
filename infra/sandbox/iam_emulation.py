"""Corrections to moto's IAM enforcement, so the sandbox denies (and allows) what AWS would.

Installed for a sandbox's lifetime by ``SandboxIam`` and undone on exit:

- **Resources.** ``iam_resources`` gives the response classes of the services the pipelines use a
  ``_determine_resource``; the request check accepts a list of (action, resource) requirements.
- **Matching.** moto turns a policy's ``Action``/``Resource`` into a regular expression
  (``.`` and ``?`` keep their regex meaning, actions compare case-sensitively); here they are IAM
  wildcards (``*``, ``?``) and actions are case-insensitive, as in AWS.
- **Action names.** moto names an action after the API operation; where IAM's name differs
  (``Invoke`` → ``lambda:InvokeFunction``) the IAM name is checked.
- **Errors.** moto answers every refusal with an XML ``AccessDenied`` (so JSON-protocol clients
  see error code ``403``) and without the resource. Here each service answers with its own code
  (``AccessDeniedException`` for DynamoDB, KMS, Secrets Manager, Step Functions, Lambda, Logs)
  and the message AWS gives: who, which action, on which resource, and why.
- **Service principals.** moto checks a trust policy only for ``Principal.AWS`` and fails with a
  TypeError on a service-only trust policy. When the sandbox's operator calls AssumeRole on behalf
  of a service (``acting_as``), the trust policy is evaluated for that service principal with its
  request context (``infra/sandbox/trust.py``); other callers keep moto's check.
- **The state machine's direct integrations.** moto's interpreter builds its clients with
  ``boto_client_for(region, service, state_credentials)`` and fixed keys "ak"/"sk"; every module
  that imported it gets a version whose clients carry credentials of ``state_credentials.role_arn``
  assumed as ``states.amazonaws.com`` (aws:SourceArn = the executing state machine).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import xmltodict
from moto.core.exceptions import JsonRESTError, _RESTError
from moto.iam import access_control

from infra.sandbox import iam_resources
from infra.sandbox import trust as trust_policy

# API operation → the IAM action AWS checks, where they differ.
IAM_ACTION_NAMES = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
}

# signing name → (error code, HTTP status) of an authorization refusal in that service.
ACCESS_DENIED_CODES = {
    "dynamodb": ("AccessDeniedException", 400),
    "kms": ("AccessDeniedException", 400),
    "secretsmanager": ("AccessDeniedException", 400),
    "states": ("AccessDeniedException", 400),
    "logs": ("AccessDeniedException", 400),
    "events": ("AccessDeniedException", 400),
    "lambda": ("AccessDeniedException", 403),
    "scheduler": ("AccessDeniedException", 403),
    "sns": ("AuthorizationError", 403),
}
_REST_JSON = frozenset({"lambda", "scheduler", "apigateway"})

# Every parser module that imports ``boto_client_for`` by name (moto 5.2.5); a test checks the
# list against moto's source, so an upgrade that adds one fails loudly instead of running as "ak".
_INTERPRETER_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk",
)
_BOTO_CLIENT_MODULE = "moto.stepfunctions.parser.asl.utils.boto_client"


# --- service principals calling AssumeRole through the operator ---------------------------------------


@dataclass
class ActingAs:
    """The service the operator's next AssumeRole stands in for, and what that service's request carries."""

    operator_arn: str
    principal: str
    context: dict[str, str]
    decision: trust_policy.Decision | None = None


_ACTING_AS: contextvars.ContextVar[ActingAs | None] = contextvars.ContextVar("sandbox_acting_as", default=None)


@contextlib.contextmanager
def acting_as(operator_arn: str, principal: str, context: dict[str, str]) -> Iterator[ActingAs]:
    """AssumeRole calls made in this block by ``operator_arn`` are decided for ``principal``."""
    acting = ActingAs(operator_arn, principal, context)
    token = _ACTING_AS.set(acting)
    try:
        yield acting
    finally:
        _ACTING_AS.reset(token)


# --- the request check ------------------------------------------------------------------------------------


def _listed(element: Any) -> list[str]:
    return element if isinstance(element, list) else [element]


def _check_element_matches(self, statement_element: str, value: str) -> bool:
    ignore_case = statement_element in ("Action", "NotAction")
    patterns = _listed(self._statement[statement_element])
    return any(trust_policy.glob_match(p, value, ignore_case) for p in patterns)


class _Refusal(Exception):
    def __init__(self, action: str, resource: str, explicit: bool, why: str = ""):
        self.action, self.resource, self.explicit, self.why = action, resource, explicit, why


class _AccessDeniedXml(_RESTError):
    code = 403

    def __init__(self, error_type: str, message: str):
        super().__init__(error_type, message)
        # With a RequestId, as AWS sends it (the interpreter's SNS integration reads it from the error).
        error = {"Code": error_type, "Message": message, "Type": "Sender"}
        response = {"ErrorResponse": {"Errors": {"Error": error}, "RequestId": str(uuid.uuid4())}}
        self.description = xmltodict.unparse(response, full_document=True)


class _AccessDeniedJson(JsonRESTError):
    pass


def _denied(service: str, content_type: str, message: str) -> _RESTError:
    error_code, status = ACCESS_DENIED_CODES.get(service, ("AccessDenied", 403))
    if service in _REST_JSON or content_type.startswith("application/x-amz-json"):
        error = _AccessDeniedJson(error_code, message)
        error.code = status
        return error
    error = _AccessDeniedXml(error_code, message)
    error.code = status
    return error


# Called with (caller ARN, action, resource, why) for every request the emulator refuses.
DenialListener = Callable[[str, str, str, str], None]
_listeners: list[DenialListener] = []


def _why(refusal: _Refusal) -> str:
    if refusal.why:
        return refusal.why
    if refusal.explicit:
        return "with an explicit deny in an identity-based policy"
    return f"because no identity-based policy allows the {refusal.action} action"


class _Requirements:
    """``check_action_permitted`` for one (action, resource) or several, with AWS's refusal message."""

    def check_action_permitted(self, resource: iam_resources.Resource) -> None:
        requirements = resource if isinstance(resource, list) else [(None, resource)]
        try:
            for action, arn in requirements:
                self._check_one(action or self._action, arn)
        except _Refusal as refusal:
            for listener in _listeners:
                listener(self._access_key.arn, refusal.action, refusal.resource, _why(refusal))
            self._refuse(refusal)

    def _check_one(self, action: str, resource: str) -> None:
        if action == "sts:GetCallerIdentity":  # always allowed, even under an explicit Deny
            return
        permitted = False
        for policy in self._access_key.collect_policies():
            result = access_control.IAMPolicy(policy).is_action_permitted(action, resource)
            if result == access_control.PermissionResult.DENIED:
                raise _Refusal(action, resource, explicit=True)
            permitted = permitted or result == access_control.PermissionResult.PERMITTED
        if permitted and self._is_assuming_role_operation(resource):
            if not self._check_role_trust_relationship(resource):
                why = "because the role's trust policy does not allow it"
                raise _Refusal(action, resource, explicit=False, why=why)
        if not permitted:
            raise _Refusal(action, resource, explicit=False)

    def _check_role_trust_relationship(self, role_arn: str) -> bool:
        acting = _ACTING_AS.get()
        if acting is not None and self._access_key.arn == acting.operator_arn:
            role = self.backend.get_role_by_arn(role_arn)
            acting.decision = trust_policy.evaluate(role.assume_role_policy_document, acting.principal, acting.context)
            return acting.decision.allowed
        try:
            return super()._check_role_trust_relationship(role_arn)
        except TypeError:  # moto cannot read a trust policy naming only service principals
            return False

    def _refuse(self, refusal: _Refusal) -> None:
        raise NotImplementedError


class SandboxIAMRequest(_Requirements, access_control.IAMRequest):
    """moto's request check, with resources, IAM action names and the service's own refusal."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._action = IAM_ACTION_NAMES.get(self._action, self._action)

    def _create_aws_request(self):
        # Without a raw body moto signs over its parsed data (right for a query-protocol form
        # POST); for a REST GET that data is the headers, so no GET of Lambda, Scheduler or API
        # Gateway would match its signature.
        request = super()._create_aws_request()
        if not self._body and self._method in ("GET", "HEAD", "DELETE"):
            request.data = b""
        return request

    def _refuse(self, refusal: _Refusal) -> None:
        why = _why(refusal)
        if refusal.resource == iam_resources.ANY:
            message = f"User: {self._access_key.arn} is not authorized to perform: {refusal.action} {why}"
        else:
            message = (
                f"User: {self._access_key.arn} is not authorized to perform: {refusal.action} "
                f"on resource: {refusal.resource} {why}"
            )
        content_type = self._headers.get("Content-Type") or self._headers.get("content-type") or ""
        raise _denied(self._service, content_type, message)


class SandboxS3IAMRequest(_Requirements, access_control.S3IAMRequest):
    """moto's S3 request check with IAM wildcard matching; S3 answers its own ``AccessDenied``."""

    def _refuse(self, refusal: _Refusal) -> None:
        self._raise_access_denied()


def _install_request_check() -> Callable[[], None]:
    saved = (
        access_control.IAMRequest,
        access_control.S3IAMRequest,
        access_control.IAMPolicyStatement.__dict__["_check_element_matches"],
    )
    access_control.IAMRequest = SandboxIAMRequest
    access_control.S3IAMRequest = SandboxS3IAMRequest
    access_control.IAMPolicyStatement._check_element_matches = _check_element_matches

    def undo() -> None:
        access_control.IAMRequest, access_control.S3IAMRequest, matches = saved
        access_control.IAMPolicyStatement._check_element_matches = matches

    return undo


# --- the interpreter's clients -------------------------------------------------------------------------

StateClientFactory = Callable[[str, str, Any, Callable[..., Any]], Any]


def _install_interpreter_clients(factory: StateClientFactory) -> Callable[[], None]:
    boto_client = importlib.import_module(_BOTO_CLIENT_MODULE)
    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None):
        return factory(region, service, state_credentials, original)

    modules = [importlib.import_module(name) for name in _INTERPRETER_MODULES]
    for module in modules:
        if module.boto_client_for is not original:
            raise RuntimeError(f"{module.__name__}.boto_client_for is not moto's: is another sandbox running?")
        module.boto_client_for = boto_client_for

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask

    eval_credentials = StateTask.__dict__["_eval_state_credentials"]

    def _eval_state_credentials(self, env):
        credentials = eval_credentials(self, env)
        # The executing state machine: the aws:SourceArn Step Functions sets when it assumes the role.
        with contextlib.suppress(AttributeError, KeyError, TypeError):
            credentials.state_machine_arn = env.states.context_object.context_object_data["StateMachine"]["Id"]
        return credentials

    StateTask._eval_state_credentials = _eval_state_credentials

    def undo() -> None:
        for module in modules:
            module.boto_client_for = original
        StateTask._eval_state_credentials = eval_credentials

    return undo


def install(state_client_factory: StateClientFactory, on_denial: DenialListener | None = None) -> Callable[[], None]:
    """Install every correction; returns the undo (which restores moto exactly)."""
    undos = [iam_resources.install(), _install_request_check(), _install_interpreter_clients(state_client_factory)]
    if on_denial is not None:
        _listeners.append(on_denial)
        undos.append(lambda: _listeners.remove(on_denial))

    def undo() -> None:
        with contextlib.ExitStack() as stack:
            for step in undos:
                stack.callback(step)

    return undo
