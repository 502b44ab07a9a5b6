"""The PostgreSQL servers behind the sandbox's RDS instances: one real server per DB instance.

The RDS instance translator asks the fleet for a server when the program declares an instance;
the server runs for the rest of the sandbox run (a test can ``stop()`` and ``start()`` it to pull
the database out from under a pipeline) and ``close()`` removes them all. Each server has TLS
on with its own throwaway CA; ``ca_bundle_path()`` is one PEM file holding every such CA, what
the emulated Lambda runtime trusts in place of the RDS CA bundle.

When STEPWORKS_DATABASE_URL is set, ``TemporaryPostgres`` starts nothing and every instance is
that server, with the URL's user, password and database.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from infra.sandbox.postgres import TemporaryPostgres


class DatabaseFleet:
    """One ``TemporaryPostgres`` per RDS instance identifier, started on demand."""

    def __init__(self):
        self._servers: dict[str, TemporaryPostgres] = {}
        self._lock = threading.Lock()
        self._directory: Path | None = None

    def provision(self, identifier: str, dbname: str, user: str) -> TemporaryPostgres:
        """The running server of instance ``identifier`` (started now with TLS on if it is new)."""
        with self._lock:
            server = self._servers.get(identifier)
            if server is None:
                server = TemporaryPostgres(ssl=True, dbname=dbname, user=user)
                try:
                    server.start()
                except Exception:
                    server.close()
                    raise
                self._servers[identifier] = server
                self._write_ca_bundle()
            return server

    def __getitem__(self, identifier: str) -> TemporaryPostgres:
        try:
            return self._servers[identifier]
        except KeyError:
            known = ", ".join(sorted(self._servers)) or "none"
            raise KeyError(f"no database server for RDS instance {identifier!r} (provisioned: {known})") from None

    def __contains__(self, identifier: object) -> bool:
        return identifier in self._servers

    def __len__(self) -> int:
        return len(self._servers)

    def servers(self) -> dict[str, TemporaryPostgres]:
        """The servers by RDS instance identifier."""
        return dict(self._servers)

    def ca_bundle_path(self) -> str | None:
        """A PEM file of every server's CA certificate (None until a server with a CA exists)."""
        bundle = self._directory / "ca-bundle.pem" if self._directory else None
        return str(bundle) if bundle and bundle.exists() else None

    def close(self) -> None:
        """Stop every server and delete its files and the CA bundle (each attempted even if one fails)."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
            directory, self._directory = self._directory, None
        failures: list[BaseException] = []
        for server in servers:
            try:
                server.close()
            except Exception as exc:  # noqa: BLE001 - the others still have to be stopped
                failures.append(exc)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        if failures:
            raise failures[0]

    def _write_ca_bundle(self) -> None:
        pems = [Path(s.ca_path).read_text() for s in self._servers.values() if s.ca_path]
        if not pems:
            return
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="stepworks-db-ca-"))
        bundle = self._directory / "ca-bundle.pem"
        partial = bundle.with_suffix(".tmp")
        partial.write_text("".join(pem if pem.endswith("\n") else pem + "\n" for pem in pems))
        partial.replace(bundle)  # a reader never sees half a bundle
