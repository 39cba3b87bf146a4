"""The backfill DAG under the Celery cluster vs under `airflow standalone`, side by side in one run.

    .venv/bin/python benchmarks/backfill_cluster_vs_standalone.py [--rows 200000] [--workers 2]
        [--admin-dsn postgresql://postgres@127.0.0.1:5432/postgres]

1. seeds one database with the demo app and ``--rows`` history rows, applies phases 1 and 2
   (benchmarks/backfill_vs_insert_select.prepare);
2. runs ``migration_p4_backfill`` (``max_parallel_chunks=--workers``, defaults otherwise) four times,
   A B B A (``--order AB``: twice): under ``airflow standalone`` (LocalExecutor, SQLite), under the cluster
       (CeleryExecutor,
   Postgres metadata, Redis, two workers: scripts/airflow_cluster.py), the cluster again, standalone
   again; the backfill is rolled back (p4_backfill.rollback) and the database vacuumed and
   checkpointed before each run, and only one Airflow is up at a time. The ABBA order cancels a
   linear drift of the shared machine's load.
3. each run's time is trigger → run success (plan, mapped copy workers, zero-loss check, report),
   plus the copy workers' own span from the chunk ledger.

Prints one JSON object: every run, the means, and the ratio cluster/standalone.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "benchmarks"))

P4 = "migration_p4_backfill"


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bvis", ROOT / "benchmarks" / "backfill_vs_insert_select.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reset(dsn: str) -> None:
    from activity_migration.config import load_config
    from activity_migration.phases import p4_backfill

    p4_backfill.rollback(dsn, load_config())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE public.events")
        conn.execute("CHECKPOINT")


def copy_span(dsn: str) -> tuple[float, int]:
    with psycopg.connect(dsn) as conn:
        span, chunks = conn.execute(
            "SELECT extract(epoch FROM max(finished_at) - min(started_at)), count(*) "
            "FROM activity_migration.backfill_chunks"
        ).fetchone()
    return round(float(span or 0), 1), int(chunks)


def run_once(server, dsn: str, conf: dict) -> dict:
    reset(dsn)
    t = time.monotonic()
    run_id = server.trigger(P4, conf)
    state = server.wait_run(P4, run_id, timeout=4 * 3600)
    elapsed = time.monotonic() - t
    if state != "success":
        raise SystemExit(f"{P4} ended {state}: {server.task_states(P4, run_id)}")
    tis = server.api("GET", server.run_path(P4, run_id) + "/taskInstances", params={"limit": 100})[
        "task_instances"
    ]
    hosts: dict[str, int] = {}
    durations: dict[str, float] = {}
    for ti in tis:
        if ti["task_id"] == "copy_worker":
            hosts[ti["hostname"]] = hosts.get(ti["hostname"], 0) + 1
        key = ti["task_id"] if ti.get("map_index", -1) < 0 else f"{ti['task_id']}[{ti['map_index']}]"
        durations[key] = round(float(ti.get("duration") or 0), 1)
    span, chunks = copy_span(dsn)
    return {
        "dag_run_s": round(elapsed, 1),
        "copy_span_s": span,
        "chunks": chunks,
        "copy_tasks_by_host": hosts,
        "task_s": durations,
    }


class Standalone:
    def __init__(self, dsn: str) -> None:
        from airflow_server import AirflowServer

        self.dsn = dsn
        self.server = AirflowServer(Path(tempfile.mkdtemp(prefix="bench_standalone_")))

    def __enter__(self):
        self.server.start()
        self.server.set_postgres_connection("activity_db_staging", self.dsn)
        self.server.wait_for_dag(P4)
        return self.server

    def __exit__(self, *exc) -> None:
        self.server.stop()


class Cluster:
    def __init__(self, dsn: str, admin: str, workers: int) -> None:
        from airflow_cluster import AirflowCluster

        self.admin = admin
        self.meta = f"bench_cluster_meta_{os.getpid()}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.meta)))
        self.server = AirflowCluster(
            Path(tempfile.mkdtemp(prefix="bench_cluster_")),
            psycopg.conninfo.make_conninfo(admin, dbname=self.meta),
            dsn,
            workers=workers,
            extra_env={
                "ACTIVITY_MIGRATION_VERSION": os.environ.get("ACTIVITY_MIGRATION_VERSION", "benchmark")
            },
        )

    def __enter__(self):
        self.server.start()
        self.server.wait_for_dag(P4)
        return self.server

    def __exit__(self, *exc) -> None:
        self.server.stop()
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.meta)))
        if self.server.leftovers:
            print(
                f"WARNING: processes left after the cluster stopped: {self.server.leftovers}", file=sys.stderr
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=2, help="max_parallel_chunks (mapped copy workers)")
    ap.add_argument(
        "--order",
        default="ABBA",
        choices=["ABBA", "AB"],
        help="ABBA (default: cancels a linear drift) or AB (one run each, for long runs)",
    )
    ap.add_argument(
        "--admin-dsn",
        default=os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = ap.parse_args()

    dsn = _bench().prepare(args.admin_dsn, args.rows)
    conf = {"environment": "staging", "mode": "demo", "max_parallel_chunks": args.workers}
    runs: list[dict] = []
    try:
        with Standalone(dsn) as s:
            runs.append({"runner": "standalone", **run_once(s, dsn, conf)})
        with Cluster(dsn, args.admin_dsn, 2) as c:
            runs.append({"runner": "cluster", **run_once(c, dsn, conf)})
            if args.order == "ABBA":
                runs.append({"runner": "cluster", **run_once(c, dsn, conf)})
        if args.order == "ABBA":
            with Standalone(dsn) as s:
                runs.append({"runner": "standalone", **run_once(s, dsn, conf)})
    finally:
        name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def mean_of(field: str) -> dict[str, float]:
        out = {}
        for r in ("standalone", "cluster"):
            xs = [x[field] for x in runs if x["runner"] == r]
            out[r] = round(sum(xs) / len(xs), 1)
        return out

    mean, copy = mean_of("dag_run_s"), mean_of("copy_span_s")
    print(
        json.dumps(
            {
                "rows": args.rows,
                "max_parallel_chunks": args.workers,
                "runs": runs,
                "mean_dag_run_s": mean,
                "mean_copy_span_s": copy,
                "ratio_cluster_vs_standalone": round(mean["cluster"] / mean["standalone"], 2),
                "copy_ratio_cluster_vs_standalone": round(copy["cluster"] / copy["standalone"], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
