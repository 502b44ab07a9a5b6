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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from infra.sandbox import iam
from infra.sandbox.fakes.base import SHUTDOWN_POLL_S

_AUTH_HEADER = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
INTERNAL_SERVER_ERROR = {"message": "Internal Server Error"}


@dataclass
class Route:
    """One declared route of one API."""

    api_id: str
    method: str
    path: str
    authorization: str
    integration: dict


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
            routes.append(
                Route(api["ApiId"], method, path, route.get("AuthorizationType", "NONE"), integrations.get(target, {}))
            )
    return routes


class HttpApiServer:
    """Serves every declared HTTP API at ``http://127.0.0.1:<port>/<api id>/<path>``."""

    def __init__(self, region: str, credentials: iam.RoleCredentials, sandbox_iam: iam.SandboxIam):
        self.region = region
        self.credentials = Credentials(credentials.access_key, credentials.secret_key)  # who may sign requests
        self.iam = sandbox_iam
        self.routes: list[Route] = []
        # (route key, why the integration failed): the access log's $context.integrationErrorMessage.
        self.integration_errors: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    def url_for(self, api_id: str, path: str) -> str:
        """Loopback URL of a route (API id as first path segment, as API Gateway's host would)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{api_id}{path}"

    def start(self) -> HttpApiServer:
        """Load routes from the emulator and start serving."""
        self.routes = load_routes(self.iam.client("apigatewayv2"))
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    status, payload = api.dispatch(self.command, self.path, dict(self.headers.items()), body)
                except Exception as exc:  # noqa: BLE001 - API Gateway answers 500, it does not hang up
                    status, payload = 500, {"message": f"Internal Server Error: {type(exc).__name__}: {exc}"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        """Route, authorize and integrate one request; returns (status, JSON body)."""
        parts = urlsplit(raw_path)
        api_id, _, rest = parts.path.lstrip("/").partition("/")
        path = f"/{rest}"
        route = next((r for r in self.routes if r.api_id == api_id and r.method == method and r.path == path), None)
        if route is None:
            return 404, {"message": "Not Found"}
        if route.authorization == "AWS_IAM":
            host = headers.get("Host") or headers.get("host", "")
            try:
                verify_sigv4(method, f"http://{host}{raw_path}", headers, body, self.credentials, self.region)
            except SignatureError as exc:
                return 403, {"message": f"Forbidden: {exc}"}
        elif route.authorization == "JWT":
            # The issuer's keys are not reachable offline; refusing is the safe emulation.
            return 401, {"message": "Unauthorized: the sandbox cannot verify JWTs; use AWS_IAM routes here"}
        elif route.authorization != "NONE":
            return 500, {"message": f"the sandbox cannot emulate authorization type {route.authorization}"}
        return self._integrate(route, body)

    def _integrate(self, route: Route, body: bytes) -> tuple[int, dict]:
        integration = route.integration
        if integration.get("IntegrationSubtype") != "StepFunctions-StartExecution":
            return 500, {"message": f"the sandbox cannot emulate integration {integration.get('IntegrationSubtype')!r}"}
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
            return 500, INTERNAL_SERVER_ERROR
        sfn = self.iam.client_for(credentials, "stepfunctions", self.region)
        try:
            started = sfn.start_execution(**kwargs)
        except ClientError as exc:
            error = exc.response["Error"]
            if error.get("Code") in ("InvalidExecutionInput", ""):
                # API Gateway passes Step Functions' refusal of the input on as a 400 (moto sends
                # that refusal without an error code).
                message = error.get("Message") or str(exc)
                return 400, {"__type": "InvalidExecutionInput", "message": f"request body is not valid JSON: {message}"}
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            if status == 400 and "AccessDenied" not in error.get("Code", ""):
                return 400, {"__type": error.get("Code"), "message": error.get("Message")}
            self.integration_errors.append((route_key, f"{error.get('Code')}: {error.get('Message')}"))
            return 500, INTERNAL_SERVER_ERROR
        return 200, {"executionArn": started["executionArn"], "startDate": started["startDate"].timestamp()}
