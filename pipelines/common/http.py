"""HTTP sessions with timeouts and urllib3 retries for third-party APIs, and the URL rule every
token-bearing request obeys (``require_secure_url``)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pipelines.common.errors import ConfigurationError

DEFAULT_TIMEOUT = (5, 30)  # (connect, read) seconds

# Set to "true" on every function by the program only when the stack sets the sandbox-only
# ``stepworks:sandboxLoopbackHttp``: then plain http to a loopback address (the sandbox's fakes)
# is allowed. Nothing else ever allows plain http.
ALLOW_LOOPBACK_HTTP_ENV = "STEPWORKS_ALLOW_LOOPBACK_HTTP"

_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def is_loopback_host(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ``::1`` (parsed, never prefix-matched)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
        return len(host) <= 253 and all(_DNS_LABEL.match(label) for label in labels)


def url_problem(url: object, *, allow_loopback_http: bool) -> str | None:
    """Why ``url`` may not carry a token (``None`` if it may).

    Allowed: ``https://<host>[:port][/path][?query]`` with a DNS name or IP literal and no user
    info or fragment; plain ``http`` only to a loopback host, and only if ``allow_loopback_http``.
    """
    if not isinstance(url, str) or not url:
        return "it is not a URL"
    if _UNSAFE.search(url):
        return "it contains spaces, control characters or backslashes"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in 0-65535
    except ValueError:
        return "it is not a well-formed URL"
    if parts.scheme not in ("https", "http"):
        return f"its scheme is {parts.scheme or 'missing'}, not https"
    if "@" in parts.netloc:
        return "it contains user info (credentials never go in a URL)"
    if not host:
        return "it has no host"
    if not _valid_host(host):
        return "its host is not a DNS name or an IP address"
    if "#" in url:
        return "it has a fragment"
    if parts.scheme == "http":
        if not is_loopback_host(host):
            return "it uses plain http (tokens are never sent in clear)"
        if not allow_loopback_http:
            return "plain http to a loopback host is allowed only in the sandbox"
    return None


def loopback_http_allowed() -> bool:
    """Whether this function may call plain-http loopback URLs (``STEPWORKS_ALLOW_LOOPBACK_HTTP``)."""
    return os.environ.get(ALLOW_LOOPBACK_HTTP_ENV, "").strip().lower() == "true"


def require_secure_url(url: str, setting: str) -> str:
    """``url`` without a trailing slash if a token may be sent to it; ConfigurationError otherwise.

    Call it before reading the token. The message names ``setting`` and the reason, never the
    URL itself (a query string may hold something secret).
    """
    problem = url_problem(url, allow_loopback_http=loopback_http_allowed())
    if problem is not None:
        raise ConfigurationError(f"{setting} must be an https URL: {problem}")
    return url.rstrip("/")


class TimeoutSession(requests.Session):
    """A requests Session whose requests all carry a timeout unless one is given."""

    def __init__(self, timeout=DEFAULT_TIMEOUT):
        super().__init__()
        self._timeout = timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, **kwargs)


def retrying_session(
    *,
    total: int = 3,
    backoff_factor: float = 0.5,
    status_forcelist: tuple[int, ...] = (500, 502, 503, 504),
    respect_retry_after: bool = True,
    backoff_max: float = 20.0,
    allowed_methods: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS"}),
    retry_class: Callable[..., Retry] = Retry,
    timeout=DEFAULT_TIMEOUT,
) -> requests.Session:
    """A Session that retries idempotent requests on connection errors and ``status_forcelist``.

    After the last retry the final response is returned (``raise_on_status=False``) so the caller
    maps it to a typed error with the upstream's own message. ``retry_class`` lets a client bound
    the retry policy further (radar gives up on long Retry-After waits).
    """
    retry = retry_class(
        total=total,
        connect=total,
        read=total,
        status=total,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        status_forcelist=status_forcelist,
        allowed_methods=allowed_methods,
        respect_retry_after_header=respect_retry_after,
        raise_on_status=False,
    )
    session = TimeoutSession(timeout=timeout)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
