"""Start, stop and inspect the local stack: LocalStack 4.14 in host mode and a PostgreSQL cluster.

Everything lives under one state directory (``MOVIESTREAM_STATE_DIR``; by default ``.local/`` in
the checkout when moviestream runs from one, gitignored, else ``$XDG_STATE_HOME/moviestream``):
    localstack-venv/            LocalStack's own virtual environment (its pins clash with ours)
    localstack/volume, tmp/     LocalStack's state, so two stacks never share state by accident
    postgres/data               the PostgreSQL cluster
    run/*.pid, logs/*.log       what ``up`` started, and where each component logs
``up`` is idempotent, ``down`` stops exactly the pids ``up`` recorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The checkout moviestream runs from (where pyproject.toml sits above the package), if any.
REPO_ROOT = PACKAGE_DIR.parents[1]
IN_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file()
LOCALSTACK_SERVICES = "kinesis,s3,sns,sqs,events,iam,sts,cloudwatch,logs,stepfunctions,secretsmanager"
LOCALSTACK_LOCK = PACKAGE_DIR / "localstack-requirements.lock"
DATABASE = "moviestream"
DEMO_DATABASE = "moviestream_demo"  # make demo's own warehouse, emptied by each demo (DB=demo)
DATABASES = {"main": DATABASE, "demo": DEMO_DATABASE}
# The role every local component connects as: it owns the warehouse databases and may create
# more (tests and the demo do), but it is no superuser, so a ruleset's `warehouse:` reference or
# a query reaches only what a warehouse user could (no pg_read_file, no COPY ... PROGRAM). The
# cluster's bootstrap superuser `postgres` is for the stack's own administration only.
LOADER_ROLE = "loader"
ADMIN_ROLE = "postgres"


def create_database_sql(name: str, owner: str | None = None) -> str:
    """CREATE DATABASE for a warehouse stand-in: UTF-8 with the C collation, so text compares
    byte by byte as in Redshift, and sorts and index inserts compare by memcmp (a 400,000-row
    backfill ran about 1 s faster than under C.UTF-8). Explicit rather than inherited, so a
    cluster created with another default still gets it."""
    owned = f' OWNER "{owner}"' if owner else ""
    return f"CREATE DATABASE \"{name}\"{owned} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C'"


# Schemas that are the system's, never handed over (pg_catalog, pg_toast, information_schema, ...).
_USER_SCHEMAS = "nspname NOT LIKE 'pg\\_%%' AND nspname <> 'information_schema'"
# What ALTER ... OWNER TO each pg_class kind takes (indexes and owned sequences follow their table).
_ALTER_BY_RELKIND = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}


def hand_over_database(admin_dsn: str, name: str, from_role: str, role: str) -> None:
    """Give database ``name``, and every schema, relation and routine in it that ``from_role``
    owns and that is not the system's, to ``role``. REASSIGN OWNED cannot: the bootstrap
    superuser also owns the catalogs, which it refuses to move."""
    import psycopg
    from psycopg import sql

    to_role = sql.Identifier(role)
    with psycopg.connect(admin_dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), to_role))
        schemas = conn.execute(
            f"SELECT nspname FROM pg_namespace WHERE {_USER_SCHEMAS} AND pg_get_userbyid(nspowner) = %s",
            (from_role,),
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), to_role))
        relations = conn.execute(
            "SELECT nspname, relname, relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE {_USER_SCHEMAS} AND relkind IN ('r', 'p', 'v', 'm', 'S') "
            "AND pg_get_userbyid(relowner) = %s "
            # a serial's or identity's sequence moves with its table, and refuses to move alone
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
            "AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))",
            (from_role,),
        ).fetchall()
        for schema, relation, kind in relations:
            conn.execute(
                sql.SQL("ALTER {} {} OWNER TO {}").format(
                    sql.SQL(_ALTER_BY_RELKIND[kind]), sql.Identifier(schema, relation), to_role
                )
            )
        routines = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            f"WHERE {_USER_SCHEMAS} AND pg_get_userbyid(proowner) = %s",
            (from_role,),
        ).fetchall()
        for (signature,) in routines:  # regprocedure text is already quoted where it must be
            conn.execute(sql.SQL("ALTER ROUTINE {} OWNER TO {}").format(sql.SQL(signature), to_role))


def default_state_dir() -> Path:
    """The checkout's .local/ when running from a checkout; else the user's state directory (an
    installed package's own folder may not be writable)."""
    if IN_CHECKOUT:
        return REPO_ROOT / ".local"
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "moviestream"


class StackError(RuntimeError):
    """A component could not be started; the message names it and its log."""


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    localstack_port: int = 4566
    postgres_port: int = 5433
    start_timeout_s: float = 120.0
    # Extra LocalStack settings, e.g. {"KINESIS_ERROR_PROBABILITY": "0.3"} for fault tests.
    localstack_env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_env(cls) -> StackConfig:
        return cls(
            state_dir=Path(os.environ.get("MOVIESTREAM_STATE_DIR") or default_state_dir()).resolve(),
            localstack_port=int(os.environ.get("LOCALSTACK_PORT", "4566")),
            postgres_port=int(os.environ.get("POSTGRES_PORT", "5433")),
            start_timeout_s=float(os.environ.get("MOVIESTREAM_START_TIMEOUT", "120")),
        )

    # paths
    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def localstack_venv(self) -> Path:
        # Shared across state dirs when MOVIESTREAM_LOCALSTACK_VENV is set (tests reuse the checkout's).
        return Path(os.environ.get("MOVIESTREAM_LOCALSTACK_VENV", self.state_dir / "localstack-venv"))

    @property
    def pg_data(self) -> Path:
        return self.state_dir / "postgres" / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.state_dir / "postgres" / "socket"

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.localstack_port}"

    @property
    def warehouse_dsn(self) -> str:
        return self.dsn_of(DATABASE)

    @property
    def demo_dsn(self) -> str:
        return self.dsn_of(DEMO_DATABASE)

    def dsn_of(self, database: str) -> str:
        return f"postgresql://{LOADER_ROLE}@127.0.0.1:{self.postgres_port}/{database}"

    def admin_dsn(self, database: str = "postgres") -> str:
        """The superuser's DSN: for the stack's own set-up, never handed to a component."""
        return f"postgresql://{ADMIN_ROLE}@127.0.0.1:{self.postgres_port}/{database}"

    def env(self, db: str = "main") -> dict[str, str]:
        """Environment variables that point the project's components at this stack: the one place
        (with ``moviestream stack env``, which prints them) that LocalStack's endpoint and test
        credentials come from. Library code never assumes them."""
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "MOVIESTREAM_WAREHOUSE_DSN": self.dsn_of(DATABASES[db]),
        }

    def client(self, service: str):  # a boto3 client
        """A boto3 client for this stack's LocalStack, with the settings env() gives the
        components (for devstack's own steps, which run before or beside those components)."""
        import boto3

        env = self.env()
        return boto3.client(
            service,
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )


# -- process helpers ------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _pid_alive(pid) else None


def _port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_pid(pid: int, timeout_s: float = 20.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# -- LocalStack -----------------------------------------------------------------------------------


class LocalStack:
    name = "localstack"

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.pid_file = cfg.run_dir / "localstack.pid"
        self.log_file = cfg.log_dir / "localstack.log"

    def pid(self) -> int | None:
        return _read_pid(self.pid_file)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.cfg.aws_endpoint}/_localstack/health", timeout=2) as resp:
                return resp.status == 200 and "services" in json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def ensure_installed(self) -> None:
        # Stacks started at once (parallel test workers, two terminals) share the virtualenv:
        # one installs it while the others wait, then find it installed.
        guard = self.cfg.localstack_venv.with_name(self.cfg.localstack_venv.name + ".install-lock")
        guard.parent.mkdir(parents=True, exist_ok=True)
        with open(guard, "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            self._install_unless_current()

    def _install_unless_current(self) -> None:
        python = self.cfg.localstack_venv / "bin" / "python"
        marker = self.cfg.localstack_venv / ".moviestream-lock"
        lock_text = LOCALSTACK_LOCK.read_text()
        if python.exists() and marker.exists() and marker.read_text() == lock_text:
            return
        print(f"installing LocalStack into {self.cfg.localstack_venv} (once)...", file=sys.stderr)
        # LocalStack 4.14 needs Python 3.13 (3.11 breaks on `Lock | None`): the interpreter this
        # project's own virtual environment was made from is one.
        py313 = os.environ.get("PYTHON313") or getattr(sys, "_base_executable", sys.executable)
        uv = Path(sys.executable).parent / "uv"
        log = self.cfg.log_dir / "localstack-install.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            steps: list[list[str]] = [
                [str(py313), "-m", "venv", "--clear", str(self.cfg.localstack_venv)],
                [str(uv), "pip", "sync", "--python", str(python), str(LOCALSTACK_LOCK)]
                if uv.exists()
                else [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--require-hashes",
                    "-r",
                    str(LOCALSTACK_LOCK),
                ],
            ]
            for step in steps:
                if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False).returncode != 0:
                    raise StackError(f"localstack: install failed, see {log}")
        marker.write_text(lock_text)

    def start(self) -> str:
        if self.pid() and self.healthy():
            return f"localstack already running (pid {self.pid()}, port {self.cfg.localstack_port})"
        if _port_in_use(self.cfg.localstack_port):
            raise StackError(
                f"localstack: port {self.cfg.localstack_port} is taken by another process; "
                "set LOCALSTACK_PORT to a free port"
            )
        self.ensure_installed()
        fs_root = self.cfg.state_dir / "localstack" / "fs"
        # Fresh state on every start: a stopped stack's streams and buckets are not worth keeping
        # (bootstrap recreates them), and stale kinesis-mock state is a classic source of confusion.
        # The npm-installed kinesis-mock (var/lib/localstack/lib) is kept, so restarts stay fast.
        shutil.rmtree(fs_root / "tmp", ignore_errors=True)
        for d in (fs_root, self.cfg.run_dir, self.cfg.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            {
                "DISABLE_EVENTS": "1",
                "SERVICES": LOCALSTACK_SERVICES,
                "GATEWAY_LISTEN": f"127.0.0.1:{self.cfg.localstack_port}",
                # Host layout under our state dir. Without the override LocalStack decides from
                # cgroups that it runs in a container and writes to /var/lib/localstack and /tmp.
                "OVERRIDE_IN_DOCKER": "0",
                "FILESYSTEM_ROOT": str(fs_root),
                "SKIP_SSL_CERT_DOWNLOAD": "1",
                # kinesis-mock otherwise rewrites every stream's whole content to a JSON file every
                # 5 s: its CPU time grows with the data held, and at ~200 MB it ran out of memory.
                # The state is cleared on every start anyway.
                "KINESIS_PERSISTENCE": "0",
                # INFO logs a line per request from the mock's single event loop.
                "KINESIS_MOCK_LOG_LEVEL": "WARN",
            }
        )
        for key in ("KINESIS_ERROR_PROBABILITY", "KINESIS_LATENCY"):
            if key in os.environ:
                env[key] = os.environ[key]
        env.update(dict(self.cfg.localstack_env))
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                [str(self.cfg.localstack_venv / "bin" / "python"), "-m", "localstack.runtime.main"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.cfg.state_dir,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + self.cfg.start_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StackError(
                    f"localstack: exited with code {proc.returncode} while starting, see {self.log_file}"
                )
            if self.healthy():
                return f"localstack started (pid {proc.pid}, port {self.cfg.localstack_port})"
            time.sleep(0.5)
        _stop_pid(proc.pid)
        raise StackError(
            f"localstack: not healthy after {self.cfg.start_timeout_s:.0f}s, see {self.log_file}"
        )

    def stop(self) -> str:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return "localstack not running"
        _stop_pid(pid)
        self.pid_file.unlink(missing_ok=True)
        return f"localstack stopped (pid {pid})"

    def status(self) -> dict:
        pid = self.pid()
        return {
            "component": self.name,
            "running": pid is not None,
            "pid": pid,
            "healthy": self.healthy() if pid else False,
            "endpoint": self.cfg.aws_endpoint,
            "log": str(self.log_file),
        }


# -- PostgreSQL -----------------------------------------------------------------------------------


class Postgres:
    name = "postgres"

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.log_file = cfg.log_dir / "postgres.log"
        self.pid_file = cfg.pg_data / "postmaster.pid"

    def _bin(self, tool: str) -> str:
        found = shutil.which(tool)
        if found:
            return found
        for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"), reverse=True):
            return str(candidate)
        raise StackError(f"postgres: '{tool}' not found; install the PostgreSQL server (make setup does it)")

    def _as_owner(self, argv: list[str]) -> list[str]:
        # initdb refuses to run as root, so as root the cluster belongs to the 'postgres' user.
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _prepare_dirs(self) -> None:
        for d in (self.cfg.pg_data.parent, self.cfg.pg_socket_dir, self.cfg.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            # The server user must be able to reach its folders through the state dir.
            path = self.cfg.pg_data.parent
            while path != path.parent:
                mode = path.stat().st_mode
                if not mode & 0o001:
                    os.chmod(path, mode | 0o011)
                path = path.parent
            for d in (self.cfg.pg_data.parent, self.cfg.pg_socket_dir):
                os.chown(d, owner.pw_uid, owner.pw_gid)
            if not self.log_file.exists():
                self.log_file.touch()
            os.chown(self.log_file, owner.pw_uid, owner.pw_gid)

    def pid(self) -> int | None:
        return _read_pid(self.pid_file)

    def ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.cfg.admin_dsn(), connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def start(self) -> str:
        if self.pid() and self.ready():
            self._ensure_database()  # a cluster from before the loader role gets it now
            return f"postgres already running (pid {self.pid()}, port {self.cfg.postgres_port})"
        if _port_in_use(self.cfg.postgres_port):
            raise StackError(
                f"postgres: port {self.cfg.postgres_port} is taken by another process; "
                "set POSTGRES_PORT to a free port"
            )
        self._prepare_dirs()
        if not (self.cfg.pg_data / "PG_VERSION").exists():
            shutil.rmtree(self.cfg.pg_data, ignore_errors=True)
            result = subprocess.run(
                self._as_owner(
                    [
                        self._bin("initdb"),
                        "-D",
                        str(self.cfg.pg_data),
                        "-A",
                        "trust",
                        "-U",
                        "postgres",
                        "-E",
                        "UTF8",
                        "--lc-collate=C",  # see create_database_sql
                        "--no-sync",
                    ]
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                self.log_file.write_text(result.stdout + result.stderr)
                raise StackError(f"postgres: initdb failed, see {self.log_file}")
        options = (
            f"-p {self.cfg.postgres_port} -k {self.cfg.pg_socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB"
        )
        result = subprocess.run(
            self._as_owner(
                [
                    self._bin("pg_ctl"),
                    "-D",
                    str(self.cfg.pg_data),
                    "-o",
                    options,
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(int(self.cfg.start_timeout_s)),
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,
        )
        if result.returncode != 0 or not self.ready():
            raise StackError(f"postgres: did not start on port {self.cfg.postgres_port}, see {self.log_file}")
        self._ensure_database()
        return f"postgres started (pid {self.pid()}, port {self.cfg.postgres_port})"

    def _ensure_database(self) -> None:
        """The loader role, and the main warehouse database owned by it. Databases a cluster made
        before the role existed (owned by the superuser) are handed over with their objects."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.cfg.admin_dsn(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (LOADER_ROLE,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE").format(
                        sql.Identifier(LOADER_ROLE)
                    )
                )
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                conn.execute(create_database_sql(DATABASE, owner=LOADER_ROLE))
            foreign = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' "
                "AND pg_get_userbyid(datdba) = %s",
                (ADMIN_ROLE,),
            ).fetchall()
        for (name,) in foreign:
            hand_over_database(self.cfg.admin_dsn(name), name, ADMIN_ROLE, LOADER_ROLE)

    def stop(self) -> str:
        pid = self.pid()
        if pid is None:
            return "postgres not running"
        subprocess.run(
            self._as_owner(
                [self._bin("pg_ctl"), "-D", str(self.cfg.pg_data), "-m", "fast", "-w", "-t", "30", "stop"]
            ),
            capture_output=True,
            check=False,
        )
        if _pid_alive(pid):
            _stop_pid(pid)
        return f"postgres stopped (pid {pid})"

    def status(self) -> dict:
        pid = self.pid()
        return {
            "component": self.name,
            "running": pid is not None,
            "pid": pid,
            "healthy": self.ready() if pid else False,
            "endpoint": self.cfg.warehouse_dsn,
            "log": str(self.log_file),
        }


def components(cfg: StackConfig) -> list[LocalStack | Postgres]:
    return [Postgres(cfg), LocalStack(cfg)]


def up(cfg: StackConfig) -> list[str]:
    messages = []
    started: list[LocalStack | Postgres] = []
    try:
        for comp in components(cfg):
            was_running = comp.pid() is not None
            messages.append(comp.start())
            if not was_running:
                started.append(comp)
    except StackError:
        for comp in started:  # leave nothing half-started behind
            comp.stop()
        raise
    return messages


def down(cfg: StackConfig) -> list[str]:
    return [comp.stop() for comp in reversed(components(cfg))]


def status(cfg: StackConfig) -> list[dict]:
    return [comp.status() for comp in components(cfg)]
