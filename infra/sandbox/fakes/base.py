"""A loopback HTTP server harness shared by the third-party API fakes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# serve_forever checks for shutdown this often; its 0.5 s default made every stop() that slow.
SHUTDOWN_POLL_S = 0.05


class FakeRequest:
    """What a fake sees of one request: method, path, query (lists), headers, raw body."""

    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes):
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = {k.lower(): v for k, v in handler.headers.items()}
        self.body = body

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


class FakeResponse:
    """A status, a JSON-serialisable body (or raw bytes) and extra headers."""

    def __init__(self, status: int, body=None, headers: dict | None = None, delay: float = 0.0):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.delay = delay


class LoopbackFake:
    """Serve ``self.handle(request) -> FakeResponse`` on 127.0.0.1 in a background thread.

    Subclasses implement ``handle``. Every request is recorded in ``requests`` so tests can
    assert on what the pipeline sent.
    """

    def __init__(self):
        self.requests: list[FakeRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def handle(self, request: FakeRequest) -> FakeResponse:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        assert self._server is not None, "fake is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackFake:
        """Bind a free loopback port and start serving."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = FakeRequest(self, self.rfile.read(length) if length else b"")
                with fake._lock:
                    fake.requests.append(request)
                response = fake.handle(request)
                if response.delay:
                    threading.Event().wait(response.delay)
                # Bytes go out as they are (a malformed answer on purpose); anything else as JSON.
                if isinstance(response.body, bytes):
                    payload = response.body
                else:
                    payload = b"" if response.body is None else json.dumps(response.body).encode()
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in response.headers.items():
                        self.send_header(name, str(value))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to tell it

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
