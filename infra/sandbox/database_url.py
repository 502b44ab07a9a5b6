"""STEPWORKS_DATABASE_URL, checked before the sandbox relies on it.

When the variable is set, the sandbox uses that PostgreSQL server instead of starting one
(``infra/sandbox/postgres.py``). A value that is not a ``postgresql://`` URL, or names a server
that does not answer, is reported naming the variable and what is wrong, before a pipeline
fails on it minutes later.
"""

from __future__ import annotations

import os
import re

import psycopg
from psycopg.conninfo import conninfo_to_dict

from infra.sandbox.postgres import URL_ENV

EXAMPLE = "postgresql://user:password@host:5432/dbname?sslmode=verify-full&sslrootcert=ca.pem"
SCHEMES = ("postgresql", "postgres")


class DatabaseUrlError(ValueError):
    """STEPWORKS_DATABASE_URL is unusable; the message names the variable and says why."""


_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***`` (and cut to 120 characters)."""
    url = _PASSWORD.sub(r"\1***@", url)
    return url if len(url) <= 120 else url[:117] + "…"


def check_database_url(url: str | None = None, connect: bool = True, connect_timeout_s: int = 5) -> None:
    """Raise DatabaseUrlError unless ``url`` (default: $STEPWORKS_DATABASE_URL) is unset or usable.

    Usable: a ``postgresql://`` URL libpq parses, with a numeric port, of a server that accepts
    a connection with the URL's user, password, database and TLS settings (unless not ``connect``).
    """
    url = os.environ.get(URL_ENV) if url is None else url
    if not url:
        return
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise DatabaseUrlError(f"{URL_ENV}: {redacted(url)!r} is not a postgresql:// URL (for example {EXAMPLE})")
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise DatabaseUrlError(
            f"{URL_ENV}: {redacted(url)!r} is not a valid PostgreSQL URL: {_first_line(exc, url)}"
        ) from None
    port = params.get("port") or "5432"
    if not port.isdigit():
        raise DatabaseUrlError(f"{URL_ENV}: {redacted(url)!r}: port {port!r} is not a number")
    if not connect:
        return
    host, user = params.get("host") or "localhost", params.get("user") or "(default user)"
    try:
        psycopg.connect(url, connect_timeout=connect_timeout_s).close()
    except psycopg.Error as exc:
        raise DatabaseUrlError(
            f"{URL_ENV}: cannot connect to {host}:{port} as {user}: {_first_line(exc, url)}"
        ) from None


def _first_line(exc: BaseException, url: str) -> str:
    """The first line of a libpq error, with any password it quotes masked."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return _PASSWORD.sub(r"\1***@", lines[0]) if lines else type(exc).__name__
