"""`make airflow-cluster` for end-to-end tests: the launcher (scripts/airflow_cluster.py) as a subprocess.

The cluster gets a private AIRFLOW_HOME, a metadata database of its own (passed in), free ports,
and the application connection ``activity_db_staging`` from the environment (tasks on every
worker read it there). The REST helpers are AirflowServer's. ``stop()`` sends SIGTERM to the
launcher (which stops its components by process id), then checks that none of the processes it
recorded is left, killing any that is (and failing the check).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from airflow_server import AirflowServer
from e2e_helpers import ROOT, free_port, wait_http

from dagrun import conn_uri


class AirflowCluster(AirflowServer):
    def __init__(
        self,
        home: Path,
        metadata_dsn: str,
        app_dsn: str,
        *,
        workers: int = 2,
        concurrency: int = 2,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = home / "launcher.log"
        self._token = None
        self.metadata_dsn = metadata_dsn
        self.workers = workers
        self.concurrency = concurrency
        self.state: dict = {}
        self.leftovers: list[str] = []
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AIRFLOW_CONN_ACTIVITY_DB") and not k.startswith("AIRFLOW__")
        }
        self.env["AIRFLOW_CONN_ACTIVITY_DB_STAGING"] = conn_uri(app_dsn)
        self.env.update(extra_env or {})

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 300) -> None:
        cmd = [
            sys.executable,
            str(ROOT / "scripts" / "airflow_cluster.py"),
            "--home",
            str(self.home),
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--concurrency",
            str(self.concurrency),
            "--metadata-dsn",
            self.metadata_dsn,
        ]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        state_file = self.home / "cluster" / "state.json"
        deadline = time.monotonic() + timeout
        while not state_file.exists():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the cluster launcher exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster did not start within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(1)
        self.state = json.loads(state_file.read_text())
        wait_http(self.base + "/api/v2/version", 60, ok=(200,), proc=self.proc)

    def pids(self) -> dict[str, int]:
        return dict(self.state.get("pids", {}))

    def stop(self) -> None:
        if self.proc is None:
            return
        recorded = {name: pid for name, pid in self.pids().items()}
        tree = {pid for pid in recorded.values()}
        for pid in list(tree):
            try:
                tree.update(c.pid for c in psutil.Process(pid).children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.leftovers.append(f"launcher {self.proc.pid}")
                os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in tree:
            try:
                p = psutil.Process(pid)
                if p.status() != psutil.STATUS_ZOMBIE:
                    self.leftovers.append(f"{pid} {' '.join(p.cmdline())[:80]}")
                    p.kill()
            except psutil.NoSuchProcess:
                pass

    def log_tail(self, n: int = 60) -> str:
        out = []
        try:
            out.append("\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:]))
        except OSError:
            pass
        sched = self.home / "cluster" / "scheduler.log"
        if sched.exists():
            out.append(
                "--- scheduler.log\n" + "\n".join(sched.read_text(errors="replace").splitlines()[-20:])
            )
        return "\n".join(out)

    # ------------------------------------------------------------------ workers
    def worker_tree(self, name: str) -> set[int]:
        """The worker's process and every process below it (its Celery pool and the task processes)."""
        pid = self.pids()[name]
        try:
            return {pid} | {c.pid for c in psutil.Process(pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()

    def kill_worker(self, name: str) -> set[int]:
        """SIGKILL the worker and everything below it at once, as if its host died."""
        pids = self.worker_tree(name)
        procs = []
        for pid in pids:
            try:
                p = psutil.Process(pid)
                p.suspend()  # freeze first, so no process reacts to its siblings' death
                procs.append(p)
            except psutil.NoSuchProcess:
                pass
        for p in procs:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        return pids

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", self.run_path(dag_id, run_id) + "/taskInstances", params={"limit": 100})[
            "task_instances"
        ]
