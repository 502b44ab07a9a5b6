"""A running sandbox's control endpoint: what another process of its user asks of it (``python -m infra fire``).

Firing a schedule is not an AWS API: EventBridge Scheduler itself starts the target, as the target's
role, assumed as ``scheduler.amazonaws.com`` with the schedule group as ``aws:SourceArn``. Only the
sandbox's process can act as that service (``Sandbox.fire_schedule`` evaluates the role's trust
policy for it), so ``serve`` exposes one loopback route that does exactly that:

``POST /schedules/fire`` with ``{"pipeline": "radar", "scheduledTime": "2026-03-01T06:00:00Z"}``
(``scheduledTime`` optional: now), ``Authorization: Bearer <token>``; the token is generated per run
and kept in the session file (mode 0600), so only its user can fire. Answers ``200
{"executionArn", "scheduleName", "scheduledTime"}``, ``401`` without the token, ``404`` for a
pipeline that is not served or has no schedule, ``400`` for a bad body, ``403`` when the scheduler
may not start the target (the role's trust or policy refuses: what AWS would record as a failed
invocation), ``500`` when StartExecution fails otherwise.
"""

from __future__ import annotations

import datetime
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from infra.sandbox.fakes.base import SHUTDOWN_POLL_S

if TYPE_CHECKING:
    from infra.sandbox.core import Sandbox

FIRE_PATH = "/schedules/fire"
MAX_BODY = 64 * 1024


def parse_time(text: str) -> datetime.datetime:
    """An ISO 8601 time (``2026-03-01T06:00:00Z``, an offset, or none: UTC) as an aware UTC datetime."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-03-01T06:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def scheduled_pipelines(sandbox: Sandbox) -> dict[str, str]:
    """The served pipelines that have a schedule: pipeline → schedule name."""
    return {
        pipeline: outputs["scheduleName"]
        for pipeline, outputs in sandbox.program.outputs.items()
        if isinstance(outputs, dict) and outputs.get("scheduleName")
    }


class ControlServer:
    """Serves ``POST /schedules/fire`` on 127.0.0.1 for the sandbox's user (see module doc)."""

    def __init__(self, sandbox: Sandbox, report: Callable[[str], None] | None = None):
        self.sandbox = sandbox
        self.token = secrets.token_urlsafe(32)
        self._report = report or (lambda message: None)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ControlServer:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_BODY)) if length else b""
                try:
                    status, answer = control.answer(self.path, self.headers.get("Authorization", ""), body)
                except Exception as exc:  # noqa: BLE001 - the caller gets the reason, the server stays up
                    status, answer = 500, {"message": f"{type(exc).__name__}: {exc}"}
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_S},
            name="sandbox-control",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer to one request."""
        from botocore.exceptions import ClientError

        from infra.sandbox import iam  # (here: `python -m infra fire` imports this module for its constants)

        if not hmac.compare_digest(authorization.encode(), f"Bearer {self.token}".encode()):
            return 401, {"message": "missing or wrong token (it is in the session file of the running sandbox)"}
        if path != FIRE_PATH:
            return 404, {"message": f"no route {path}; the control endpoint serves POST {FIRE_PATH}"}
        try:
            request = json.loads(body or b"{}")
            pipeline = request["pipeline"]
            raw_time = request.get("scheduledTime")
            when = parse_time(raw_time) if raw_time else datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return 400, {"message": f"the body must be {{'pipeline': …, 'scheduledTime': ISO 8601}}: {exc}"}
        schedules = scheduled_pipelines(self.sandbox)
        if pipeline not in schedules:
            served = ", ".join(schedules) or "none"
            return 404, {"message": f"pipeline {pipeline!r} has no schedule in this sandbox; scheduled: {served}"}
        try:
            arn = self.sandbox.fire_schedule(schedules[pipeline], scheduled_time=when)
        except iam.AssumeRoleRefused as refused:
            return 403, {"message": str(refused)}
        except ClientError as exc:
            error = exc.response["Error"]
            status = 403 if "AccessDenied" in error.get("Code", "") else 500
            reason = f"{error.get('Code')}: {error.get('Message')}"
            return status, {"message": f"the scheduler could not start the target: {reason}"}
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        self._report(f"fired the schedule of {pipeline} ({schedules[pipeline]}) for {stamp}, on request")
        return 200, {"executionArn": arn, "scheduleName": schedules[pipeline], "scheduledTime": stamp}
