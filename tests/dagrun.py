"""Running the project's DAGs under ``airflow dags test`` in a subprocess (test helpers).

A plain module, not a conftest: import it absolutely (``from dagrun import dags_test``) from any
test, including those in packages (tests/backfill, tests/validation). ``tests/`` is on sys.path
because it has no ``__init__.py``. ``from conftest import ...`` is not safe: pytest keeps one
module named ``conftest`` at a time, and tests/e2e/conftest.py replaces this directory's.

The Airflow environment itself (a private, migrated SQLite home) is the session fixture
``airflow_env`` in tests/conftest.py; pass it as ``env``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from activity_migration.connections import dsn_to_uri

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def conn_uri(dsn: str) -> str:
    """An Airflow connection URI (the form AIRFLOW_CONN_* takes) for a libpq DSN (keyword or URI form)."""
    return dsn_to_uri(dsn)


def dags_test(
    env: dict[str, str],
    dag_id: str,
    conf: dict | None = None,
    *,
    staging_dsn: str | None = None,
    production_dsn: str | None = None,
    timeout: int = 900,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run ``airflow dags test DAG_ID -c CONF`` from the project root; stdout holds stdout and stderr.

    ``conf`` is merged over ``{"mode": "demo"}`` (normal mode would wait for an approval forever).
    ``staging_dsn``/``production_dsn`` become the ``activity_db_staging``/``activity_db`` connections;
    ``extra_env`` adds or overrides variables (Airflow Variables, the SMTP connection, ...).
    """
    run_env = dict(env, **(extra_env or {}))
    if staging_dsn:
        run_env["AIRFLOW_CONN_ACTIVITY_DB_STAGING"] = conn_uri(staging_dsn)
    if production_dsn:
        run_env["AIRFLOW_CONN_ACTIVITY_DB"] = conn_uri(production_dsn)
    full_conf = {"mode": "demo", **(conf or {})}
    before = last_run(run_env, dag_id)
    proc = subprocess.run(
        [AIRFLOW, "dags", "test", dag_id, "-c", json.dumps(full_conf)],
        env=run_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    after = last_run(run_env, dag_id)
    # Airflow's own record of the run this call made (None: it made none)
    proc.dag_run_state = after[1] if after and after != before else None  # type: ignore[attr-defined]
    return proc


def last_run(env: dict[str, str], dag_id: str) -> tuple[int, str] | None:
    """(id, state) of the newest run of ``dag_id`` in the metadata database of ``env`` (SQLite)."""
    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not url.startswith("sqlite:///"):
        raise RuntimeError(f"the test Airflow home must use SQLite, got {url!r}")
    path = url[len("sqlite:///") :]
    if not Path(path).exists():
        return None
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def dags_test_succeeded(proc: subprocess.CompletedProcess) -> bool:
    """Airflow recorded the DAG run as successful (its state in the metadata database)."""
    return getattr(proc, "dag_run_state", None) == "success"
