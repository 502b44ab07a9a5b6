"""The resource each emulated API call acts on, so moto's IAM check can match resource-scoped grants.

moto authorizes a request against the resource its response class names in
``_determine_resource()`` (moto's own extension point, called in ``BaseResponse.call_action``) and
against ``"*"`` when there is none. Only SQS, IAM and STS name one, and a statement whose
``Resource`` is an ARN never matches ``"*"``: without these, every grant scoped to one table,
function, secret or key would be denied. Each function here returns, for the actions it knows:

- the ARN the action acts on (a table, a function with its qualifier, a secret's full ARN …), or
- a list of ``(action or None, ARN)`` requirements that must all be allowed, where a request
  touches several resources (``BatchWriteItem`` over two tables) or IAM checks other actions
  than the API's name (``TransactWriteItems`` → ``dynamodb:PutItem`` …, ``ReEncrypt`` →
  ``kms:ReEncryptFrom`` + ``kms:ReEncryptTo``).

Any other action stays ``"*"``: it is checked by action only, so a grant scoped to a resource
never allows it in the sandbox (none of the pipelines' grants is of that kind).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

Requirement = tuple[str | None, str]
Resource = str | list[Requirement]

ANY = "*"


def _param(response: Any, name: str) -> Any:
    body = getattr(response, "body", None)
    if isinstance(body, dict) and name in body:  # DynamoDB hands its parsed parameters over as ``body``
        return body[name]
    return response._get_param(name)


def _json_body(response: Any) -> dict:
    body = getattr(response, "body", None)
    if isinstance(body, dict):
        return body
    try:
        return json.loads(body or "{}")
    except (TypeError, ValueError):
        return {}


# --- DynamoDB ---------------------------------------------------------------------------------------

_DYNAMODB_TABLE_ACTIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable", "DescribeTimeToLive"}
)
_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def table_arn(table: str, region: str, account: str) -> str:
    """A table's ARN from its name or ARN (DynamoDB accepts both as ``TableName``)."""
    return table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{table}"


def dynamodb(response: Any) -> Resource:
    action = response._get_action()
    region, account = response.region, response.current_account
    if action in _DYNAMODB_TABLE_ACTIONS:
        arn = table_arn(_param(response, "TableName"), region, account)
        index = _param(response, "IndexName") if action in ("Query", "Scan") else None
        return f"{arn}/index/{index}" if index else arn
    if action in ("BatchGetItem", "BatchWriteItem"):
        tables = _param(response, "RequestItems") or {}
        return [(None, table_arn(t, region, account)) for t in tables]
    if action in ("TransactWriteItems", "TransactGetItems"):
        requirements: list[Requirement] = []
        for item in _param(response, "TransactItems") or []:
            for kind, request in item.items():
                requirements.append((_TRANSACT_ACTIONS[kind], table_arn(request["TableName"], region, account)))
        return requirements
    return ANY


# --- Lambda --------------------------------------------------------------------------------------------

_LAMBDA_FUNCTION_ACTIONS = frozenset(
    {"Invoke", "InvokeAsync", "InvokeWithResponseStream", "GetFunction", "GetFunctionConfiguration"}
)


def function_arn(reference: str, qualifier: str | None, region: str, account: str) -> str:
    """The ARN IAM checks for a function named by name, ARN or partial ARN, with its qualifier."""
    parts = reference.split(":")
    if reference.startswith("arn:"):  # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        region, account, name = parts[3], parts[4], parts[6]
        given = parts[7] if len(parts) > 7 else None
    elif len(parts) >= 3 and parts[1] == "function":  # <account>:function:<name>[:<qualifier>]
        account, name = parts[0], parts[2]
        given = parts[3] if len(parts) > 3 else None
    else:  # <name>[:<qualifier>]
        name, given = parts[0], (parts[1] if len(parts) > 1 else None)
    qualifier = qualifier or given
    return f"arn:aws:lambda:{region}:{account}:function:{name}" + (f":{qualifier}" if qualifier else "")


def awslambda(response: Any) -> Resource:
    action = response._get_action()
    if action not in _LAMBDA_FUNCTION_ACTIONS:
        return ANY
    path = response.path.split("?")[0]
    reference = unquote(path.split("/functions/", 1)[1].split("/")[0])
    qualifier = response.querystring.get("Qualifier", [None])[0]
    return function_arn(reference, qualifier, response.region, response.current_account)


# --- Secrets Manager ---------------------------------------------------------------------------------

_SECRET_ACTIONS = frozenset(
    {"GetSecretValue", "PutSecretValue", "DescribeSecret", "UpdateSecret", "DeleteSecret", "RotateSecret"}
)


def secretsmanager(response: Any) -> Resource:
    if response._get_action() not in _SECRET_ACTIONS:
        return ANY
    secret_id = _param(response, "SecretId")
    from moto.secretsmanager.models import secretsmanager_backends

    found = secretsmanager_backends[response.current_account][response.region].secrets.get(secret_id)
    if found is not None:
        return found.arn
    if secret_id.startswith("arn:"):
        return secret_id
    # No such secret: AWS checks the caller's permissions before it looks the secret up.
    return f"arn:aws:secretsmanager:{response.region}:{response.current_account}:secret:{secret_id}"


# --- KMS ------------------------------------------------------------------------------------------------

_KMS_KEY_ACTIONS = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "DescribeKey",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
    }
)


def _kms_key_arn(response: Any, key_id: str | None) -> str:
    if not key_id:
        return ANY
    from moto.kms.models import kms_backends

    backend = kms_backends[response.current_account][response.region]
    if key_id.startswith("arn:") and ":alias/" in key_id:
        key_id = "alias/" + key_id.split(":alias/", 1)[1]
    if key_id.startswith("alias/"):
        # Looked up without moto's get_key_id_from_alias, which creates AWS-managed keys as a side effect.
        key = next((k for k in backend.keys.values() if key_id in k.aliases), None)
        return key.arn if key else f"arn:aws:kms:{response.region}:{response.current_account}:{key_id}"
    raw = key_id.split(":key/", 1)[1] if key_id.startswith("arn:") else key_id
    key = backend.keys.get(raw)
    return key.arn if key else f"arn:aws:kms:{response.region}:{response.current_account}:key/{raw}"


def _ciphertext_key(response: Any, name: str = "CiphertextBlob") -> str | None:
    from moto.kms.utils import _deserialize_ciphertext_blob

    blob = _param(response, name)
    if not blob:
        return None
    try:
        raw = base64.b64decode(blob) if isinstance(blob, str) else blob
        return _deserialize_ciphertext_blob(raw).key_id
    except Exception:  # noqa: BLE001 - not a moto ciphertext: KMS itself will refuse it
        return None


def kms(response: Any) -> Resource:
    action = response._get_action()
    if action == "ReEncrypt":
        source = _param(response, "SourceKeyId") or _ciphertext_key(response)
        return [
            ("kms:ReEncryptFrom", _kms_key_arn(response, source)),
            ("kms:ReEncryptTo", _kms_key_arn(response, _param(response, "DestinationKeyId"))),
        ]
    if action not in _KMS_KEY_ACTIONS:
        return ANY
    key_id = _param(response, "KeyId")
    if not key_id and action == "Decrypt":
        key_id = _ciphertext_key(response)  # symmetric Decrypt may omit KeyId: the ciphertext names it
    return _kms_key_arn(response, key_id)


# --- SNS, Step Functions, CloudWatch Logs ------------------------------------------------------------------


def sns(response: Any) -> Resource:
    if response._get_action() not in ("Publish", "PublishBatch", "Subscribe", "GetTopicAttributes"):
        return ANY
    return _param(response, "TopicArn") or _param(response, "TargetArn") or ANY


_STATE_MACHINE_ACTIONS = frozenset(
    {"StartExecution", "StartSyncExecution", "DescribeStateMachine", "ListExecutions", "UpdateStateMachine"}
)
_EXECUTION_ACTIONS = frozenset({"DescribeExecution", "StopExecution", "GetExecutionHistory", "RedriveExecution"})


def stepfunctions(response: Any) -> Resource:
    action = response._get_action()
    body = _json_body(response)
    if action in _STATE_MACHINE_ACTIONS:
        return body.get("stateMachineArn") or ANY
    if action in _EXECUTION_ACTIONS:
        return body.get("executionArn") or ANY
    return ANY  # SendTaskSuccess/Failure/Heartbeat: IAM cannot scope them (a task token is no resource)


_LOG_GROUP_ACTIONS = frozenset({"CreateLogStream", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents"})


def logs(response: Any) -> Resource:
    action = response._get_action()
    body = _json_body(response)
    group = body.get("logGroupName")
    if not group or action not in (*_LOG_GROUP_ACTIONS, "PutLogEvents"):
        return ANY
    base = f"arn:aws:logs:{response.region}:{response.current_account}:log-group:{group}"
    if action == "PutLogEvents":
        return f"{base}:log-stream:{body.get('logStreamName', '')}"
    return f"{base}:*"


def _response_classes() -> dict[type, Callable[[Any], Resource]]:
    from moto.awslambda.responses import LambdaResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.kms.responses import KmsResponse
    from moto.logs.responses import LogsResponse
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.sns.responses import SNSResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    return {
        DynamoHandler: dynamodb,
        LambdaResponse: awslambda,
        SecretsManagerResponse: secretsmanager,
        KmsResponse: kms,
        SNSResponse: sns,
        StepFunctionResponse: stepfunctions,
        LogsResponse: logs,
    }


def install() -> Callable[[], None]:
    """Give the response classes their ``_determine_resource``; returns the undo."""
    installed: list[tuple[type, Any]] = []
    for cls, determine in _response_classes().items():
        previous = cls.__dict__.get("_determine_resource")

        def _determine_resource(self, _determine=determine) -> Resource:
            try:
                return _determine(self)
            except Exception:  # noqa: BLE001 - an unparseable request is checked on its action alone
                return ANY

        cls._determine_resource = _determine_resource
        installed.append((cls, previous))

    def undo() -> None:
        for cls, previous in installed:
            if previous is None:
                del cls._determine_resource
            else:
                cls._determine_resource = previous

    return undo
