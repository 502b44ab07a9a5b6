"""Translations of the trigger types: HTTP APIs (API Gateway v2), schedules, EventBridge rules and targets."""

from __future__ import annotations

from infra.sandbox.mocks import physical_name
from infra.sandbox.translator_support import _account, _client, _name

# --- API Gateway v2 ------------------------------------------------------------------------------


def http_api(mocks, r):
    api = _client(mocks, "apigatewayv2").create_api(
        Name=_name(r, 128),
        ProtocolType=r.inputs["protocolType"],
        Description=r.inputs.get("description", ""),
        Tags=r.inputs.get("tags") or {},
    )
    api_id = api["ApiId"]
    return api_id, {
        "apiEndpoint": api["ApiEndpoint"],
        "executionArn": f"arn:aws:execute-api:{mocks.region}:{_account(mocks)}:{api_id}",
        "arn": f"arn:aws:apigateway:{mocks.region}::/apis/{api_id}",
    }


def http_integration(mocks, r):
    inputs = r.inputs
    integration = _client(mocks, "apigatewayv2").create_integration(
        ApiId=inputs["apiId"],
        IntegrationType=inputs["integrationType"],
        IntegrationSubtype=inputs.get("integrationSubtype", ""),
        CredentialsArn=inputs.get("credentialsArn", ""),
        PayloadFormatVersion=inputs.get("payloadFormatVersion", "1.0"),
        RequestParameters=dict(inputs.get("requestParameters") or {}),
        **({"IntegrationUri": inputs["integrationUri"]} if inputs.get("integrationUri") else {}),
        **({"IntegrationMethod": inputs["integrationMethod"]} if inputs.get("integrationMethod") else {}),
    )
    return integration["IntegrationId"], {}


def http_route(mocks, r):
    inputs = r.inputs
    kwargs = dict(
        ApiId=inputs["apiId"],
        RouteKey=inputs["routeKey"],
        Target=inputs.get("target", ""),
        AuthorizationType=inputs.get("authorizationType", "NONE"),
    )
    if inputs.get("authorizerId"):
        kwargs["AuthorizerId"] = inputs["authorizerId"]
    route = _client(mocks, "apigatewayv2").create_route(**kwargs)
    return route["RouteId"], {}


def http_authorizer(mocks, r):
    inputs = r.inputs
    jwt = inputs.get("jwtConfiguration") or {}
    authorizer = _client(mocks, "apigatewayv2").create_authorizer(
        ApiId=inputs["apiId"],
        AuthorizerType=inputs["authorizerType"],
        Name=_name(r, 128),
        IdentitySource=list(inputs.get("identitySources") or []),
        JwtConfiguration={"Issuer": jwt.get("issuer", ""), "Audience": list(jwt.get("audiences") or [])},
    )
    return authorizer["AuthorizerId"], {}


def http_stage(mocks, r):
    inputs = r.inputs
    access = inputs.get("accessLogSettings") or {}
    route = inputs.get("defaultRouteSettings") or {}
    _client(mocks, "apigatewayv2").create_stage(
        ApiId=inputs["apiId"],
        StageName=inputs["name"],
        AutoDeploy=bool(inputs.get("autoDeploy")),
        AccessLogSettings={"DestinationArn": access.get("destinationArn", ""), "Format": access.get("format", "")},
        DefaultRouteSettings={
            "ThrottlingBurstLimit": int(route.get("throttlingBurstLimit", 0)),
            "ThrottlingRateLimit": float(route.get("throttlingRateLimit", 0)),
        },
    )
    return f"{inputs['apiId']}/{inputs['name']}", {}


# --- Scheduler, EventBridge ----------------------------------------------------------------------


def schedule(mocks, r):
    inputs = r.inputs
    name = _name(r)
    target = inputs["target"]
    retry = target.get("retryPolicy") or {}
    created = _client(mocks, "scheduler").create_schedule(
        Name=name,
        ScheduleExpression=inputs["scheduleExpression"],
        ScheduleExpressionTimezone=inputs.get("scheduleExpressionTimezone", "UTC"),
        FlexibleTimeWindow={"Mode": inputs["flexibleTimeWindow"]["mode"]},
        State=inputs.get("state", "ENABLED"),
        Target={
            "Arn": target["arn"],
            "RoleArn": target["roleArn"],
            "Input": target.get("input", "{}"),
            "RetryPolicy": {
                "MaximumRetryAttempts": int(retry.get("maximumRetryAttempts", 185)),
                "MaximumEventAgeInSeconds": int(retry.get("maximumEventAgeInSeconds", 86400)),
            },
        },
    )
    return name, {"arn": created["ScheduleArn"], "name": name}


def event_rule(mocks, r):
    name = _name(r)
    rule = _client(mocks, "events").put_rule(
        Name=name,
        EventPattern=r.inputs["eventPattern"],
        Description=r.inputs.get("description", ""),
        State="ENABLED",
    )
    return name, {"arn": rule["RuleArn"], "name": name}


def event_target(mocks, r):
    inputs = r.inputs
    target_id = inputs.get("targetId") or physical_name(r.name)
    target: dict = {"Id": target_id, "Arn": inputs["arn"], "RoleArn": inputs.get("roleArn", "")}
    if inputs.get("input"):
        target["Input"] = inputs["input"]
    if inputs.get("inputPath"):
        target["InputPath"] = inputs["inputPath"]
    transformer = inputs.get("inputTransformer")
    if transformer:
        target["InputTransformer"] = {
            "InputPathsMap": dict(transformer.get("inputPaths") or {}),
            "InputTemplate": transformer["inputTemplate"],
        }
    retry = inputs.get("retryPolicy")
    if retry:
        target["RetryPolicy"] = {
            key: int(retry[camel])
            for key, camel in (
                ("MaximumRetryAttempts", "maximumRetryAttempts"),
                ("MaximumEventAgeInSeconds", "maximumEventAgeInSeconds"),
            )
            if retry.get(camel) is not None
        }
    dead_letter = inputs.get("deadLetterConfig")
    if dead_letter and dead_letter.get("arn"):
        target["DeadLetterConfig"] = {"Arn": dead_letter["arn"]}
    _client(mocks, "events").put_targets(Rule=inputs["rule"], Targets=[target])
    return f"{inputs['rule']}-{target_id}", {"targetId": target_id}


def lambda_permission(mocks, r):
    """A statement of a function's resource policy (who may invoke it: API Gateway for a route)."""
    inputs = r.inputs
    statement_id = inputs.get("statementId") or physical_name(r.name, 100)
    kwargs = dict(
        FunctionName=inputs["function"],
        StatementId=statement_id,
        Action=inputs["action"],
        Principal=inputs["principal"],
    )
    if inputs.get("sourceArn"):
        kwargs["SourceArn"] = inputs["sourceArn"]
    if inputs.get("sourceAccount"):
        kwargs["SourceAccount"] = inputs["sourceAccount"]
    _client(mocks, "lambda").add_permission(**kwargs)
    return statement_id, {"statementId": statement_id}


TRIGGER_TRANSLATORS = {
    "aws:lambda/permission:Permission": lambda_permission,
    "aws:apigatewayv2/api:Api": http_api,
    "aws:apigatewayv2/integration:Integration": http_integration,
    "aws:apigatewayv2/route:Route": http_route,
    "aws:apigatewayv2/authorizer:Authorizer": http_authorizer,
    "aws:apigatewayv2/stage:Stage": http_stage,
    "aws:scheduler/schedule:Schedule": schedule,
    "aws:cloudwatch/eventRule:EventRule": event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": event_target,
}
