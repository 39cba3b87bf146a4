"""A real `airflow standalone` for end-to-end tests, and a small REST client for it.

The server gets a private AIRFLOW_HOME (SQLite metadata), the project's DAGs and plugins, and the
environment scripts/airflow_env.py builds, minus the application connections: tests point
``activity_db_staging`` at their own database through the REST API (a connection in the metadata
DB, so one server can serve several test databases). Stopped with SIGINT to its process group
(docs/platform-notes.md: standalone ignores SIGTERM for its children).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import requests
from e2e_helpers import ROOT, free_port, wait_http

BIN = Path(sys.executable).parent


class AirflowServer:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = home / "standalone.log"
        self._token: str | None = None
        self.env = self._build_env()

    def _build_env(self) -> dict[str, str]:
        import importlib.util

        spec = importlib.util.spec_from_file_location("airflow_env", ROOT / "scripts" / "airflow_env.py")
        airflow_env = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(airflow_env)

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AIRFLOW_CONN_ACTIVITY_DB") and not k.startswith("AIRFLOW__")
        }
        built = airflow_env.build_env(
            home=self.home, port=self.port, host="127.0.0.1", start_embedded=False, environ={}
        )
        built = {k: v for k, v in built.items() if not k.startswith("AIRFLOW_CONN_ACTIVITY_DB")}
        env.update(built)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"] = "5"
        env["AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC"] = "1"
        # The log servers' fixed ports (8793/8794) clash with any other Airflow on the machine.
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
        return env

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 120) -> None:
        subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"],
            env=self.env,
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "airflow_env.py"), "--create-pools"],
            env={**self.env, "AIRFLOW_BIN": str(BIN / "airflow")},
            check=True,
            cwd=ROOT,
        )
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "airflow"), "standalone"],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_http(self.base + "/api/v2/version", timeout, ok=(200,), proc=self.proc)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
        # Components the parent left behind (same process group).
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # ------------------------------------------------------------------ REST
    @property
    def token(self) -> str:
        if self._token is None:
            r = requests.post(
                self.base + "/auth/token", json={"username": "admin", "password": "admin"}, timeout=90
            )
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kw: Any) -> Any:
        # A loaded CI machine can stall the API server for a while: reads are retried on a timeout.
        # The SQLite metadata database of `airflow standalone` answers a write it could not lock
        # ("database is locked" while the scheduler writes) with a 500 "Database error" and no
        # change: that is retried for every method, a few seconds apart.
        attempts = 3 if method == "GET" else 1
        locked_retries = 5
        attempt = 0
        while True:
            try:
                r = requests.request(
                    method,
                    self.base + path,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=90,
                    **kw,
                )
            except (requests.ConnectionError, requests.Timeout):
                attempt += 1
                if attempt >= attempts:
                    raise
                time.sleep(2)
                continue
            if r.status_code >= 500 and "Database error" in r.text and locked_retries > 0:
                locked_retries -= 1
                time.sleep(3)
                continue
            break
        if r.status_code not in expect:
            raise AssertionError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def set_postgres_connection(self, conn_id: str, dsn: str) -> None:
        d = psycopg.conninfo.conninfo_to_dict(dsn)
        body = {
            "connection_id": conn_id,
            "conn_type": "postgres",
            "host": d.get("host", "127.0.0.1"),
            "port": int(d.get("port", 5432)),
            "login": d.get("user", "postgres"),
            "password": d.get("password"),
            "schema": d["dbname"],
        }
        r = requests.get(
            self.base + f"/api/v2/connections/{conn_id}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=90,
        )
        if r.status_code == 404:
            # 409 only when a retried attempt of this very call had written it (the same body).
            self.api("POST", "/api/v2/connections", expect=(201, 409), json=body)
            return
        self.api("PATCH", f"/api/v2/connections/{conn_id}", json=body)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = requests.get(
                self.base + f"/api/v2/dags/{dag_id}",
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=90,
            )
            if r.status_code == 200:
                return
            time.sleep(1)
        errors = self.api("GET", "/api/v2/importErrors")
        raise AssertionError(f"DAG {dag_id} not loaded within {timeout:.0f} s; import errors: {errors}")

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def run_path(self, dag_id: str, run_id: str) -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        tis = self.api("GET", self.run_path(dag_id, run_id) + "/taskInstances")["task_instances"]
        return {t["task_id"]: t["state"] for t in tis}

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 420) -> str:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.api("GET", self.run_path(dag_id, run_id))["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(1)
        raise AssertionError(
            f"{dag_id} {run_id} still {state} after {timeout:.0f} s; tasks: "
            f"{self.task_states(dag_id, run_id)}\n{self.log_tail()}"
        )

    def pending_approvals(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self.api("GET", "/api/v2/dags/~/dagRuns/~/hitlDetails", params={"response_received": "false"})
        return [
            h
            for h in data["hitl_details"]
            if h["task_instance"]["dag_id"] == dag_id and h["task_instance"]["dag_run_id"] == run_id
        ]

    def wait_for_approval(
        self, dag_id: str, run_id: str, timeout: float = 420, poll: float = 1.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = self.pending_approvals(dag_id, run_id)
            if pending:
                return pending[0]
            state = self.api("GET", self.run_path(dag_id, run_id))["state"]
            if state in ("success", "failed"):
                raise AssertionError(
                    f"{dag_id} {run_id} ended {state} without asking for approval; tasks: "
                    f"{self.task_states(dag_id, run_id)}"
                )
            time.sleep(poll)
        raise AssertionError(
            f"no approval asked by {dag_id} {run_id} within {timeout:.0f} s; tasks: "
            f"{self.task_states(dag_id, run_id)}"
        )

    def answer(self, hitl: dict[str, Any], option: str) -> dict[str, Any]:
        ti = hitl["task_instance"]
        path = (
            self.run_path(ti["dag_id"], ti["dag_run_id"])
            + f"/taskInstances/{ti['task_id']}/{ti.get('map_index', -1)}/hitlDetails"
        )
        return self.api("PATCH", path, json={"chosen_options": [option], "params_input": {}})
