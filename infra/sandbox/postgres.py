"""A throwaway PostgreSQL server on loopback, for the sandbox, the tests and the benchmarks.

``TemporaryPostgres`` initdb's a cluster in a temporary directory, starts it on a free
127.0.0.1 port (its unix socket in the same directory), optionally with TLS from a CA it
generates (so ``sslmode=verify-full`` runs for real), creates a database and a password user,
and removes everything on exit. When STEPWORKS_DATABASE_URL is set, that server is used
instead and nothing is started.

initdb and postgres refuse to run as root, so as root the server runs as the ``postgres``
system user (``runuser``), which owns the temporary directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_BIN_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")
URL_ENV = "STEPWORKS_DATABASE_URL"
SERVER_USER = "postgres"  # the unprivileged account used when we are root
ADMIN_ROLE = "postgres"

# Durability is not wanted from a throwaway server; benchmarks pass their own settings.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def find_bin_dir() -> Path:
    """Where initdb/pg_ctl live: PG_BIN_DIR, a Debian postgresql-NN directory, or PATH."""
    candidates = [os.environ.get("PG_BIN_DIR", ""), *DEFAULT_BIN_DIRS]
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries not found: install postgresql (initdb, pg_ctl) or set PG_BIN_DIR")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for localhost/127.0.0.1 signed by it: (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stepworks sandbox CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.crt", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)  # the server refuses a key others can read
    return ca_path, cert_path, key_path


class TemporaryPostgres:
    """A PostgreSQL server for the duration of a ``with`` block (or ``start()``/``close()``).

    ``stop()`` and ``start()`` take the server down and bring it back with its data, so a test
    can pull the database out from under a running pipeline.
    """

    def __init__(
        self,
        *,
        ssl: bool = False,
        dbname: str = "stepworks",
        user: str = "stepworks",
        password: str | None = None,
        settings: dict[str, str] | None = None,
        url: str | None = None,
        bin_dir: str | Path | None = None,
    ):
        self.ssl = ssl
        self.dbname = dbname
        self.user = user
        self.password = password or secrets.token_urlsafe(16)
        self.settings = dict(FAST_SETTINGS if settings is None else settings)
        self.external_url = url if url is not None else os.environ.get(URL_ENV) or None
        self._bin_dir = Path(bin_dir) if bin_dir else None
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.ca_path: str | None = None
        self._root: Path | None = None
        self._running = False
        self._initialised = False
        self._external_sslmode: str | None = None
        if self.external_url:
            self._adopt_external(self.external_url)

    # -- connection details ------------------------------------------------------------------
    @property
    def external(self) -> bool:
        """True when STEPWORKS_DATABASE_URL (or ``url``) names the server: nothing is started."""
        return bool(self.external_url)

    @property
    def sslmode(self) -> str:
        """``verify-full`` with TLS on, else ``disable`` (or what STEPWORKS_DATABASE_URL says)."""
        return self._external_sslmode or ("verify-full" if self.ssl else "disable")

    def conninfo(self, dbname: str | None = None, **overrides) -> str:
        """A libpq connection string for the app user (``dbname`` defaults to the app database)."""
        params = {
            "host": self.host,
            "port": self.port,
            "dbname": dbname or self.dbname,
            "user": self.user,
            "password": self.password,
            "sslmode": self.sslmode,
        }
        if self.ssl and self.ca_path:
            params["sslrootcert"] = self.ca_path
        params.update(overrides)
        return make_conninfo(**{k: v for k, v in params.items() if v is not None})

    @property
    def url(self) -> str:
        """``postgresql://user:password@127.0.0.1:port/dbname?sslmode=…``."""
        query = f"sslmode={self.sslmode}" + (f"&sslrootcert={quote(self.ca_path)}" if self.ca_path else "")
        return (
            f"postgresql://{quote(self.user)}:{quote(self.password, safe='')}@{self.host}:{self.port}/"
            f"{quote(self.dbname)}?{query}"
        )

    def connect(self, dbname: str | None = None, **kwargs) -> psycopg.Connection:
        """A psycopg connection as the app user."""
        return psycopg.connect(self.conninfo(dbname), **kwargs)

    def admin_connect(self, dbname: str = "postgres") -> psycopg.Connection:
        """An autocommit superuser connection (over the unix socket for a server we started)."""
        if self.external:
            return psycopg.connect(self.conninfo(dbname), autocommit=True)
        return psycopg.connect(
            host=str(self._root / "socket"), port=self.port, user=ADMIN_ROLE, dbname=dbname, autocommit=True
        )

    def create_database(self, name: str) -> str:
        """A new empty database owned by the app user; returns its name."""
        with self.admin_connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(self.user)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting anyone still in it."""
        with self.admin_connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> TemporaryPostgres:
        """Create the cluster on first use, then start the server and wait until it accepts connections."""
        if self.external or self._running:
            return self
        if not self._initialised:
            self._init_cluster()
            self._start_on_free_port()
        else:
            self._pg_ctl("start", "-w", "-t", "60", "-l", str(self._root / "server.log"))
        self._running = True
        if not self._app_user_ready():
            self._create_app_user()
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut), keeping its data."""
        if self.external:
            raise RuntimeError(f"cannot stop the server named by {URL_ENV}")
        if self._running:
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")
            self._running = False

    def close(self) -> None:
        """Stop the server and delete its directory."""
        if self.external:
            return
        try:
            if self._running:
                self.stop()
        finally:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
                self._initialised = False

    def server_log(self) -> str:
        """The server's log so far (for failure messages)."""
        log = self._root / "server.log" if self._root else None
        return log.read_text(errors="replace") if log and log.exists() else ""

    # -- internals ---------------------------------------------------------------------------
    def _adopt_external(self, url: str) -> None:
        params = conninfo_to_dict(url)
        self.host = params.get("host") or "127.0.0.1"
        self.port = int(params.get("port") or 5432)
        self.dbname = params.get("dbname") or self.dbname
        self.user = params.get("user") or self.user
        self.password = params.get("password") or ""
        self.ca_path = params.get("sslrootcert")
        self._external_sslmode = params.get("sslmode") or "prefer"
        self.ssl = self._external_sslmode in ("verify-ca", "verify-full")

    def _as_server_user(self) -> tuple[list[str], int | None, int | None]:
        if os.geteuid() != 0:
            return [], None, None
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise RuntimeError(f"running as root needs a '{SERVER_USER}' system user for the server") from None
        return ["runuser", "-u", SERVER_USER, "--"], account.pw_uid, account.pw_gid

    def _run(self, *args: str) -> None:
        prefix, _, _ = self._as_server_user()
        result = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False, cwd=self._root)
        if result.returncode != 0:
            raise RuntimeError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{self.server_log()[-2000:]}"
            )

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self._bin() / "pg_ctl"), "-D", str(self._root / "data"), *args)

    def _bin(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir()
        return self._bin_dir

    def _init_cluster(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="stepworks-pg-"))
        (self._root / "socket").mkdir()
        self._chown_root()
        self._run(
            str(self._bin() / "initdb"),
            "-D",
            str(self._root / "data"),
            "-U",
            ADMIN_ROLE,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self._root / 'socket'}'",
            "max_connections": "50",
            **{k: str(v) for k, v in self.settings.items()},
        }
        hba = ["local all all trust"]
        if self.ssl:
            ca, cert, key = _write_tls_files(self._root / "data")
            self.ca_path = str(self._root / "ca.pem")
            shutil.copy(ca, self.ca_path)
            conf.update(ssl="on", ssl_cert_file=f"'{cert}'", ssl_key_file=f"'{key}'", ssl_ca_file=f"'{ca}'")
            hba += ["hostnossl all all 127.0.0.1/32 reject", "hostssl all all 127.0.0.1/32 scram-sha-256"]
        else:
            hba += ["host all all 127.0.0.1/32 scram-sha-256"]
        with open(self._root / "data" / "postgresql.auto.conf", "a") as handle:
            handle.writelines(f"{key} = {value}\n" for key, value in conf.items())
        (self._root / "data" / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        self._chown_root()
        self._initialised = True

    def _chown_root(self) -> None:
        _, uid, gid = self._as_server_user()
        if uid is not None:
            for path in [self._root, *self._root.rglob("*")]:
                os.chown(path, uid, gid)

    def _start_on_free_port(self) -> None:
        # The free port is only probed, not held, so another process can take it first: retry.
        for attempt in range(3):
            self.port = _free_port()
            with open(self._root / "data" / "postgresql.auto.conf", "a") as handle:
                handle.write(f"port = {self.port}\n")  # the last setting of a name wins
            try:
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self._root / "server.log"))
                return
            except RuntimeError:
                if attempt == 2 or "could not bind" not in self.server_log():
                    raise

    def _app_user_ready(self) -> bool:
        with self.admin_connect() as conn:
            return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.user,)).fetchone() is not None

    def _create_app_user(self) -> None:
        with self.admin_connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(self.dbname), sql.Identifier(self.user))
            )
