"""The running sandbox reachable from other processes: the emulator on a loopback port, and a session file.

A sandbox lives inside one process (``python -m infra run`` or ``serve``). To answer a callback
from another terminal, as Jira would, a second process needs the emulator (to read the shared
secret by ARN, as Jira's administrator did) and the loopback URL of the route. So the running
sandbox serves moto's own HTTP server over the same in-process backends (IAM enforced: requests
are signed with the sandbox operator's keys, emulator credentials that open nothing outside it),
and writes what a client needs into a session file only its user can read, removed at exit.

moto's server dispatches a request to the same backend methods an in-process client reaches, so
the sandbox's hooks apply to it too: an object put through the served endpoint (by any process)
raises the S3 → EventBridge event ``eventbridge.py`` routes (``tests/infra/test_serve.py`` pins it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.sandbox.core import Sandbox


class NoSandboxRunning(Exception):
    """No sandbox of the stack runs on this machine (no session file, or its process is gone)."""


@dataclass(frozen=True)
class Session:
    """What another process needs to reach a running sandbox."""

    pid: int
    stack: str
    region: str
    endpoint: str  # the emulator, for --endpoint-url
    access_key_id: str  # the sandbox operator's emulator credentials
    secret_access_key: str
    outputs: Mapping[str, Any] = field(default_factory=dict)  # stack outputs by pipeline
    routes: Mapping[str, str] = field(default_factory=dict)  # exported API URL → its loopback URL
    # ``python -m infra serve``'s control endpoint (``infra/sandbox/control.py``) and its bearer token.
    control_url: str = ""
    control_token: str = ""

    def client(self, service: str):
        """A boto3 client of the served emulator, signed as the operator."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def loopback(self, exported_url: str) -> str:
        """Where an exported API URL is served on this machine."""
        try:
            return self.routes[exported_url]
        except KeyError:
            raise NoSandboxRunning(f"the running sandbox serves no route {exported_url}") from None


class PortTaken(Exception):
    """A port the sandbox was told to serve on is in use by another program."""


def require_free(port: int) -> None:
    """PortTaken naming ``port`` unless it can be bound on 127.0.0.1 (moto's server would hang on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortTaken(f"port {port} on 127.0.0.1 is taken ({exc.strerror}); choose another") from None


def session_path(stack: str) -> Path:
    """``<tmp>/stepworks-<uid>/sandbox-<stack>.json``: one running sandbox per stack and user."""
    return Path(tempfile.gettempdir()) / f"stepworks-{os.getuid()}" / f"sandbox-{stack}.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_session(stack: str) -> Session:
    """The session of the sandbox of ``stack`` running on this machine; NoSandboxRunning if there is none."""
    path = session_path(stack)
    try:
        session = Session(**json.loads(path.read_text()))
    except FileNotFoundError:
        raise NoSandboxRunning(f"no sandbox of stack {stack!r} is running on this machine") from None
    except (OSError, ValueError, TypeError) as exc:
        raise NoSandboxRunning(f"the sandbox session file {path} cannot be read ({exc})") from None
    if not _alive(session.pid):
        raise NoSandboxRunning(f"the sandbox of stack {stack!r} (process {session.pid}) is no longer running")
    return session


def _route_map(sandbox: Sandbox) -> dict[str, str]:
    routes = {}
    for outputs in sandbox.program.outputs.values():
        for value in outputs.values() if isinstance(outputs, Mapping) else ():
            if isinstance(value, str) and ".execute-api." in value:
                with contextlib.suppress(KeyError, AttributeError):
                    routes[value] = sandbox.route_url(value)
    return routes


@contextlib.contextmanager
def served(sandbox: Sandbox, port: int = 0, control_url: str = "", control_token: str = "") -> Iterator[Session]:
    """Serve ``sandbox``'s emulator on 127.0.0.1:``port`` and publish its session until the block ends.

    ``control_url`` and ``control_token``: a control endpoint the session names (``serve``'s).
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on the terminal
    if port:
        require_free(port)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    operator = sandbox.iam.operator
    session = Session(
        pid=os.getpid(),
        stack=sandbox.stack,
        region=sandbox.region,
        endpoint=f"http://{host}:{bound}",
        access_key_id=operator.access_key,
        secret_access_key=operator.secret_key,
        outputs=dict(sandbox.program.outputs),
        routes=_route_map(sandbox),
        control_url=control_url,
        control_token=control_token,
    )
    path = session_path(sandbox.stack)
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(asdict(session), out, default=str)
        yield session
    finally:
        with contextlib.suppress(FileNotFoundError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        server.stop()
