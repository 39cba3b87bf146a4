#!/usr/bin/env python3
"""Run this project's Airflow as a small cluster on loopback: CeleryExecutor, two workers.

``make airflow-cluster`` (scripts/run_airflow_cluster.sh) starts, on 127.0.0.1 only:

- a Postgres metadata database of its own (``airflow_cluster_meta``) on the Postgres that
  answers on 127.0.0.1:5432, else on the project's embedded server (``--metadata-dsn`` to
  choose another);
- ``redis-server`` as the Celery broker and result store, on its own port, nothing persisted
  (Debian's package is installed with apt-get when missing and we are root);
- ``airflow scheduler``, ``airflow dag-processor``, ``airflow triggerer``, ``airflow api-server``;
- ``--workers`` (2) ``airflow celery worker`` processes, each with its own Celery host name,
  its own log-server port and the task host name it records (``worker1``, ``worker2``: see
  plugins/migration_airflow/cluster_host.py), ``--concurrency`` (2) task slots each.

Same login, connections, Variables, pools and DAGs as ``make airflow`` (scripts/airflow_env.py),
plus ``ACTIVITY_MIGRATION_CLUSTER=1``: an application connection that points at the embedded
Postgres is refused by the tasks (it lives on one machine; docs/scaling.md).

Ctrl-C or SIGTERM stops everything it started, by process id: each component runs in its own
process group, and the processes below it (Airflow's task processes make their own groups) are
collected before the signal, then killed if still there. A component that dies (a worker killed
on purpose) is reported and the rest keeps running. ``$AIRFLOW_HOME/cluster/state.json`` lists
the process ids and ports once the API answers; each component logs to ``$AIRFLOW_HOME/cluster/``.

No Airflow import here: this runs before Airflow is configured.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOME = PROJECT_ROOT / ".local" / "airflow-cluster"
METADATA_DB = "airflow_cluster_meta"
CLUSTER_ENV = "ACTIVITY_MIGRATION_CLUSTER"
HOSTNAME_CALLABLE = "migration_airflow.cluster_host.hostname"

sys.path.insert(0, str(PROJECT_ROOT / "include"))


def _load_airflow_env():
    spec = importlib.util.spec_from_file_location("airflow_env", PROJECT_ROOT / "scripts" / "airflow_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg: str) -> None:
    print(f"[airflow-cluster] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- pieces


def ensure_redis() -> str:
    """Path of redis-server; Debian's package is installed when missing (root + apt), as the browser
    test's chromium."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing redis-server (apt-get)...")
        subprocess.run(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server "
            ">/dev/null",
            shell=True,
            check=False,
        )
        found = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if found:
            return found
    raise SystemExit(
        "redis-server is missing and cannot be installed here: install Debian's redis-server "
        "(apt-get install redis-server) and run again"
    )


def metadata_dsn(explicit: str | None) -> str:
    """libpq DSN of the cluster's metadata database (created when missing)."""
    import psycopg
    from psycopg import sql

    if explicit:
        dsn = explicit
    else:
        from activity_migration.embedded import EmbeddedPostgres, port_is_open

        if port_is_open("127.0.0.1", 5432):
            admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        else:
            log("no Postgres on 127.0.0.1:5432: the metadata database goes to the project's embedded server")
            admin = EmbeddedPostgres().start()
        dsn = psycopg.conninfo.make_conninfo(admin, dbname=METADATA_DB)
        with psycopg.connect(admin, autocommit=True) as conn:
            if (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (METADATA_DB,)).fetchone()
                is None
            ):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(METADATA_DB)))
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        conn.execute("SELECT 1")
    return dsn


def sqlalchemy_url(dsn: str, driver: str = "postgresql+psycopg2") -> str:
    from activity_migration.connections import dsn_to_uri

    return dsn_to_uri(dsn, driver)


def cluster_secrets(home: Path) -> dict[str, str]:
    """Keys every component must share (JWT for the task API, session key, Fernet key of the
    metadata DB's connections), kept in the home (mode 0600) so a restart reads the same DB."""
    path = home / "cluster" / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    import base64

    values = {
        "jwt_secret": secrets.token_urlsafe(48),
        "secret_key": secrets.token_urlsafe(32),
        "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


# --------------------------------------------------------------------------- the cluster


class Cluster:
    """The processes of the local cluster; ``start()`` then ``stop()`` (or ``run()`` until a signal)."""

    def __init__(
        self,
        home: Path = DEFAULT_HOME,
        port: int = 8080,
        *,
        workers: int = 2,
        concurrency: int = 2,
        metadata: str | None = None,
        password: str | None = None,
        redis_port: int | None = None,
        environ: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.home = Path(home).resolve()
        self.port = port
        self.workers = workers
        self.concurrency = concurrency
        self.metadata = metadata
        self.password = password
        self.redis_port = redis_port or free_port()
        self.environ = dict(os.environ if environ is None else environ)
        self.extra_env = dict(extra_env or {})
        self.dir = self.home / "cluster"
        self.bin = Path(sys.executable).parent
        self.airflow = (
            str(self.bin / "airflow")
            if (self.bin / "airflow").exists()
            else (shutil.which("airflow") or "airflow")
        )
        self.procs: dict[str, subprocess.Popen] = {}
        self.worker_ports: dict[str, int] = {}
        self.env: dict[str, str] = {}

    # ------------------------------------------------------------------ environment
    def build_env(self) -> dict[str, str]:
        airflow_env = _load_airflow_env()
        kw = {"password": self.password} if self.password else {}
        built = airflow_env.build_env(
            home=self.home, port=self.port, host="127.0.0.1", start_embedded=False, environ=self.environ, **kw
        )
        meta = metadata_dsn(self.metadata)
        keys = cluster_secrets(self.home)
        broker = f"redis://127.0.0.1:{self.redis_port}"
        env = dict(self.environ)  # AIRFLOW__ settings you export apply, except those set below
        env.update(built)
        env.update(
            {
                CLUSTER_ENV: "1",
                "PATH": f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(meta),
                # small pools: the metadata Postgres may be shared (max_connections)
                "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "2",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "4",
                "AIRFLOW__CELERY__BROKER_URL": f"{broker}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"{broker}/1",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
                "AIRFLOW__CORE__PARALLELISM": str(max(4, self.workers * self.concurrency)),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": HOSTNAME_CALLABLE,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
                "AIRFLOW__API__SECRET_KEY": keys["secret_key"],
                "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            }
        )
        env.update(self.extra_env)
        self.env = env
        return env

    def embedded_connections(self) -> list[str]:
        """Application connections that still point at the embedded Postgres (tasks will refuse them)."""
        from activity_migration.connections import (
            ENVIRONMENT_CONN_IDS,
            _from_json,
            _from_uri,
            env_var_name,
        )

        out = []
        for conn_id in ENVIRONMENT_CONN_IDS.values():
            value = (self.env.get(env_var_name(conn_id)) or "").strip()
            if value:
                spec = _from_json(conn_id, value) if value.startswith("{") else _from_uri(conn_id, value)
                if spec.embedded:
                    out.append(conn_id)
        return out

    # ------------------------------------------------------------------ processes
    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.dir / f"{name}.log", "ab") as logf:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                cmd,
                env=env or self.env,
                cwd=PROJECT_ROOT,
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs[name] = proc
        log(f"{name}: pid {proc.pid}")
        return proc

    def _airflow(self, *args: str) -> None:
        subprocess.run(
            [self.airflow, *args],
            env=self.env,
            cwd=PROJECT_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self, timeout: float = 180) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        redis = ensure_redis()
        self.build_env()
        for conn_id in self.embedded_connections():
            log(
                f"WARNING: connection {conn_id} points at the embedded Postgres: tasks refuse it in cluster "
                f"mode. Export AIRFLOW_CONN_{conn_id.upper()}=postgresql://user@host:5432/db "
                "(or set the connection in the UI) to use a real server."
            )
        try:
            self._spawn(
                "redis",
                [
                    redis,
                    "--port",
                    str(self.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "yes",
                    "--dir",
                    str(self.dir),
                    "--daemonize",
                    "no",
                ],
            )
            log("airflow db migrate ...")
            self._airflow("db", "migrate")
            subprocess.run(
                [sys.executable, str(PROJECT_ROOT / "scripts" / "airflow_env.py"), "--create-pools"],
                env={**self.env, "AIRFLOW_BIN": self.airflow},
                check=True,
                cwd=PROJECT_ROOT,
            )
            try:
                self._airflow("dags", "reserialize")
            except subprocess.CalledProcessError:
                log("warning: airflow dags reserialize failed (see airflow dags list-import-errors)")
            self._spawn("scheduler", [self.airflow, "scheduler", "--skip-serve-logs"])
            self._spawn("dag-processor", [self.airflow, "dag-processor"])
            self._spawn("triggerer", [self.airflow, "triggerer"])
            self._spawn(
                "api-server",
                [
                    self.airflow,
                    "api-server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                ],
            )
            for i in range(1, self.workers + 1):
                name = f"worker{i}"
                port = free_port()
                self.worker_ports[name] = port
                env = {
                    **self.env,
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(port),
                    "MIGRATION_WORKER_HOSTNAME": name,
                }
                self._spawn(
                    name,
                    [
                        self.airflow,
                        "celery",
                        "worker",
                        "--celery-hostname",
                        f"{name}@%h",
                        "--concurrency",
                        str(self.concurrency),
                        "--pid",
                        str(self.dir / f"{name}.pid"),
                    ],
                    env=env,
                )
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.write_state()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode} during start-up; see "
                        f"{self.dir / (name + '.log')}:\n{self.log_tail(name)}"
                    )
            try:
                with urllib.request.urlopen(self.base_url + "/api/v2/version", timeout=3) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last = exc
            time.sleep(1)
        raise RuntimeError(f"the API server did not answer within {timeout:.0f} s ({last})")

    def write_state(self) -> None:
        state = {
            "base_url": self.base_url,
            "redis_port": self.redis_port,
            "launcher_pid": os.getpid(),
            "pids": {n: p.pid for n, p in self.procs.items()},
            "worker_log_ports": self.worker_ports,
        }
        (self.dir / "state.json").write_text(json.dumps(state, indent=2))

    def log_tail(self, name: str, n: int = 40) -> str:
        try:
            return "\n".join((self.dir / f"{name}.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def kill_component(self, name: str, sig: int = signal.SIGKILL) -> list[int]:
        """Signal a component and every process below it (as if its host died); returns the pids signalled."""
        proc = self.procs[name]
        pids = [proc.pid] + descendants(proc.pid)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def stop(self, grace: float = 15) -> None:
        """TERM each component's process group (workers first, Redis last), then KILL whatever is left,
        the task processes below them included."""
        order = (
            [n for n in self.procs if n.startswith("worker")]
            + [n for n in ("scheduler", "triggerer", "dag-processor", "api-server") if n in self.procs]
            + [n for n in self.procs if n == "redis"]
        )
        tree: dict[str, list[int]] = {n: descendants(self.procs[n].pid) for n in order}
        for name in order:
            _signal_group(self.procs[name], signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name in order:
            proc = self.procs[name]
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} still running after {grace:.0f} s: killing it")
        for name in order:
            proc = self.procs[name]
            _signal_group(proc, signal.SIGKILL)
            for pid in tree[name]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        state = self.dir / "state.json"
        if state.exists():
            state.unlink()
        log("stopped")

    def run(self) -> int:
        """Start, then wait for Ctrl-C / SIGTERM; report components that die."""
        stopping = {"sig": None}

        def on_signal(signum, _frame):
            stopping["sig"] = signum

        def interrupt(signum, _frame):
            raise KeyboardInterrupt(signal.Signals(signum).name)

        # during start-up a signal interrupts it (start() stops what it started), then it only sets a flag
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
        try:
            self.start()
        except KeyboardInterrupt:
            log("interrupted during start-up: stopped")
            return 130
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        print(
            f"Airflow UI: {self.base_url}  (user admin, password in "
            f"{self.env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE']})",
            flush=True,
        )
        print(
            f"CeleryExecutor, {self.workers} workers x {self.concurrency} slots; logs in {self.dir}; "
            "Ctrl-C stops all",
            flush=True,
        )
        reported: set[str] = set()
        while stopping["sig"] is None:
            for name, proc in self.procs.items():
                if name not in reported and proc.poll() is not None:
                    reported.add(name)
                    log(f"{name} (pid {proc.pid}) exited with {proc.returncode}; the rest keeps running")
            time.sleep(0.5)
        log(f"signal {signal.Signals(stopping['sig']).name}: stopping everything")
        self.stop()
        return 0


def descendants(pid: int) -> list[int]:
    import psutil  # an Airflow dependency

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:  # gone already
        return []


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the pid
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    airflow_env = _load_airflow_env()
    airflow_env.add_home_and_port(p, "MIGRATION_AIRFLOW_CLUSTER_HOME", DEFAULT_HOME)
    p.add_argument("--workers", type=int, default=int(os.environ.get("MIGRATION_CLUSTER_WORKERS", "2")))
    p.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("MIGRATION_CLUSTER_CONCURRENCY", "2")),
        help="task slots per worker (default 2)",
    )
    p.add_argument(
        "--metadata-dsn",
        default=os.environ.get("MIGRATION_CLUSTER_METADATA_DSN"),
        help="metadata database (libpq DSN); default airflow_cluster_meta on 127.0.0.1:5432, else on "
        "the embedded server",
    )
    airflow_env.add_password(p, None)  # None: build_env's own default
    args = p.parse_args(argv)
    if args.workers < 1 or args.concurrency < 1:
        p.error("--workers and --concurrency must be at least 1")
    cluster = Cluster(
        args.home,
        args.port,
        workers=args.workers,
        concurrency=args.concurrency,
        metadata=args.metadata_dsn,
        password=args.password,
    )
    return cluster.run()


if __name__ == "__main__":
    sys.exit(main())
