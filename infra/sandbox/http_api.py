"""The declared HTTP APIs, served on loopback.

Routes, integrations and authorization come from what the program declared (read back from the
emulator). ``AWS_IAM`` routes require a valid SigV4 signature made with the sandbox's
credentials; a ``StepFunctions-StartExecution`` integration maps its request parameters
(``$request.body``, ``$context.requestId``) and calls StartExecution as API Gateway would, so a
body that is not JSON is refused with 400 by Step Functions itself.

The integration runs as its ``CredentialsArn`` role, assumed as ``apigateway.amazonaws.com``
(which sets neither aws:SourceAccount nor aws:SourceArn). When API Gateway cannot assume the role,
or the role may not start the execution, the caller gets what AWS answers, 500
``{"message": "Internal Server Error"}``, and the reason goes where AWS puts it, the
``integrationErrorMessage`` of the access log (here ``HttpApiServer.integration_errors``).
"""

from __future__ import annotations

import datetime
import hmac
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from infra.sandbox import iam, lambda_proxy
from infra.sandbox.fakes.base import SHUTDOWN_POLL_S

_AUTH_HEADER = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
INTERNAL_SERVER_ERROR = {"message": "Internal Server Error"}
JWT_REFUSAL = "the sandbox cannot verify JWTs; use AWS_IAM routes here"
# Called for every request an API answers with (api id, method, path, request bytes, status, response
# bytes): how the sandbox meters API Gateway (``infra/sandbox/metering.py``).
REQUEST_LISTENERS: list[Callable[[str, str, str, int, int, int], None]] = []


@dataclass
class Route:
    """One declared route of one API."""

    api_id: str
    method: str
    path: str
    authorization: str
    integration: dict
    api_name: str = ""


@dataclass
class Answer:
    """What API Gateway sends back: a status, headers and the body's bytes."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    @classmethod
    def json(cls, status: int, payload: Any) -> Answer:
        return cls(status, json.dumps(payload).encode())


class SignatureError(Exception):
    """The request is not signed, or not signed with the sandbox's credentials."""


def verify_sigv4(
    method: str, url: str, headers: dict[str, str], body: bytes, credentials: Credentials, region: str
) -> None:
    """Recompute the SigV4 signature of a request and compare it with the one it carries."""
    lowered = {k.lower(): v for k, v in headers.items()}
    match = _AUTH_HEADER.fullmatch(lowered.get("authorization", "").strip())
    if not match:
        raise SignatureError("missing or malformed SigV4 Authorization header")
    if match["key"] != credentials.access_key:
        raise SignatureError("unknown access key")
    if match["service"] != "execute-api" or match["region"] != region:
        raise SignatureError(f"signed for {match['service']} in {match['region']}, expected execute-api in {region}")
    amz_date = lowered.get("x-amz-date", "")
    try:
        signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        raise SignatureError("missing or malformed X-Amz-Date") from None
    if abs(datetime.datetime.now(datetime.UTC) - signed_at) > MAX_CLOCK_SKEW:
        raise SignatureError("signature expired")
    signed_names = match["signed"].split(";")
    # A signed header the request lacks is left out, so the signature cannot match.
    present = {n: lowered[n] for n in signed_names if n in lowered}
    request = AWSRequest(method=method, url=url, data=body, headers=present)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(credentials, "execute-api", region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureError("signature does not match")


def load_routes(client) -> list[Route]:
    """Every route of every HTTP API in the emulator (read with an ``apigatewayv2`` client), with its integration."""
    routes = []
    for api in client.get_apis()["Items"]:
        integrations = {i["IntegrationId"]: i for i in client.get_integrations(ApiId=api["ApiId"])["Items"]}
        for route in client.get_routes(ApiId=api["ApiId"])["Items"]:
            method, _, path = route["RouteKey"].partition(" ")
            target = route.get("Target", "").removeprefix("integrations/")
            authorization = route.get("AuthorizationType", "NONE")
            integration = integrations.get(target, {})
            routes.append(Route(api["ApiId"], method, path, authorization, integration, api.get("Name", "")))
    return routes


class HttpApiServer:
    """Serves each declared HTTP API on a loopback port of its own, as each has a host of its own in AWS.

    ``ports`` fixes the port of an API by its name (``python -m infra serve``); others get a free one.
    """

    def __init__(
        self,
        region: str,
        credentials: iam.RoleCredentials,
        sandbox_iam: iam.SandboxIam,
        ports: Mapping[str, int] | None = None,
    ):
        self.region = region
        self.credentials = Credentials(credentials.access_key, credentials.secret_key)  # who may sign requests
        self.iam = sandbox_iam
        self.routes: list[Route] = []
        # (route key, why the integration failed): the access log's $context.integrationErrorMessage.
        self.integration_errors: list[tuple[str, str]] = []
        self._ports = dict(ports or {})
        self._servers: dict[str, ThreadingHTTPServer] = {}  # by API id

    def url_for(self, api_id: str, path: str) -> str:
        """Loopback URL of a route of the API ``api_id``."""
        host, port = self._servers[api_id].server_address[:2]
        return f"http://{host}:{port}{path}"

    def base_urls(self) -> dict[str, str]:
        """Each API's loopback base URL, by API name."""
        names = {route.api_id: route.api_name for route in self.routes}
        return {names.get(api_id, api_id): self.url_for(api_id, "") for api_id in self._servers}

    def start(self) -> HttpApiServer:
        """Load routes from the emulator and serve every API that has one."""
        self.routes = load_routes(self.iam.client("apigatewayv2"))
        try:
            for api_id in dict.fromkeys(route.api_id for route in self.routes):
                name = next(route.api_name for route in self.routes if route.api_id == api_id)
                self._servers[api_id] = self._serve(api_id, self._ports.get(name, 0))
        except PortTaken:
            self.stop()
            raise
        return self

    def _serve(self, api_id: str, port: int) -> ThreadingHTTPServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    answer = api.dispatch(api_id, self.command, self.path, dict(self.headers.items()), body)
                except Exception as exc:  # noqa: BLE001 - API Gateway answers 500, it does not hang up
                    answer = Answer.json(500, {"message": f"Internal Server Error: {type(exc).__name__}: {exc}"})
                for listener in REQUEST_LISTENERS:
                    listener(api_id, self.command, self.path, len(body), answer.status, len(answer.body))
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, *args):
                pass

        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise PortTaken(f"port {port} on 127.0.0.1 is taken ({exc.strerror}); choose another") from None
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S}, daemon=True).start()
        return server

    def stop(self) -> None:
        """Stop serving."""
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def dispatch(self, api_id: str, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Route, authorize and integrate one request to the API ``api_id``."""
        parts = urlsplit(raw_path)
        route = next(
            (r for r in self.routes if r.api_id == api_id and r.method == method and r.path == parts.path), None
        )
        if route is None:
            return Answer.json(404, {"message": "Not Found"})
        if route.authorization == "AWS_IAM":
            host = headers.get("Host") or headers.get("host", "")
            try:
                verify_sigv4(method, f"http://{host}{raw_path}", headers, body, self.credentials, self.region)
            except SignatureError as exc:
                return Answer.json(403, {"message": f"Forbidden: {exc}"})
        elif route.authorization == "JWT":
            # The issuer's keys are not reachable offline; refusing is the safe emulation.
            return Answer.json(
                401, {"message": "Unauthorized: the sandbox cannot verify JWTs; use AWS_IAM routes here"}
            )
        elif route.authorization != "NONE":
            return Answer.json(500, {"message": f"the sandbox cannot emulate authorization type {route.authorization}"})
        integration = route.integration
        if integration.get("IntegrationSubtype") == "StepFunctions-StartExecution":
            return self._start_execution(route, body)
        if integration.get("IntegrationType") == "AWS_PROXY" and ":lambda:" in integration.get("IntegrationUri", ""):
            return self._invoke_function(route, raw_path, headers, body)
        return Answer.json(500, {"message": f"the sandbox cannot emulate integration {integration!r}"})

    def _start_execution(self, route: Route, body: bytes) -> Answer:
        integration = route.integration
        request_id = str(uuid.uuid4())
        values = {"$request.body": body.decode("utf-8", errors="replace"), "$context.requestId": request_id}
        params = {k: values.get(v, v) for k, v in integration.get("RequestParameters", {}).items()}
        kwargs = {"stateMachineArn": params["StateMachineArn"], "input": params.get("Input") or "{}"}
        if params.get("Name"):
            kwargs["name"] = params["Name"]
        route_key = f"{route.method} {route.path}"
        try:
            credentials = self.iam.assume(integration.get("CredentialsArn", ""), iam.APIGATEWAY)
        except iam.AssumeRoleRefused as refused:
            self.integration_errors.append((route_key, str(refused)))
            return Answer.json(500, INTERNAL_SERVER_ERROR)
        sfn = self.iam.client_for(credentials, "stepfunctions", self.region)
        try:
            started = sfn.start_execution(**kwargs)
        except ClientError as exc:
            error = exc.response["Error"]
            if error.get("Code") in ("InvalidExecutionInput", ""):
                # API Gateway passes Step Functions' refusal of the input on as a 400 (moto sends
                # that refusal without an error code).
                message = error.get("Message") or str(exc)
                return Answer.json(
                    400, {"__type": "InvalidExecutionInput", "message": f"request body is not valid JSON: {message}"}
                )
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            if status == 400 and "AccessDenied" not in error.get("Code", ""):
                return Answer.json(400, {"__type": error.get("Code"), "message": error.get("Message")})
            self.integration_errors.append((route_key, f"{error.get('Code')}: {error.get('Message')}"))
            return Answer.json(500, INTERNAL_SERVER_ERROR)
        return Answer.json(
            200, {"executionArn": started["executionArn"], "startDate": started["startDate"].timestamp()}
        )

    def _invoke_function(self, route: Route, raw_path: str, headers: dict[str, str], body: bytes) -> Answer:
        """A Lambda proxy integration (payload format 2.0), invoked as API Gateway does."""
        function_arn = lambda_proxy.function_of(route.integration["IntegrationUri"])
        route_key = f"{route.method} {route.path}"
        source_arn = (
            f"arn:aws:execute-api:{self.region}:{self.iam.account}:{route.api_id}/$default/{route.method}{route.path}"
        )
        refusal = lambda_proxy.permission_problem(self.iam.client("lambda"), function_arn, source_arn)
        if refusal:
            self.integration_errors.append((route_key, refusal))
            return Answer.json(500, INTERNAL_SERVER_ERROR)
        event = lambda_proxy.event_v2(route.api_id, route_key, raw_path, headers, body)
        invoked = self.iam.client("lambda").invoke(FunctionName=function_arn, Payload=json.dumps(event).encode())
        payload = invoked["Payload"].read()
        if invoked.get("FunctionError"):
            self.integration_errors.append((route_key, f"the function failed: {payload[:200]!r}"))
            return Answer.json(500, INTERNAL_SERVER_ERROR)
        status, answer_headers, answer_body = lambda_proxy.response_v2(payload)
        return Answer(status, answer_body, answer_headers)


class PortTaken(Exception):
    """A fixed port of an API is in use by another program."""
