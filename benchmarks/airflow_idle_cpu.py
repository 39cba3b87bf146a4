"""CPU that Airflow itself burns while idle: the cluster vs `airflow standalone`, one after the other.

    .venv/bin/python benchmarks/airflow_idle_cpu.py [--seconds 60]
        [--admin-dsn postgresql://postgres@127.0.0.1:5432/postgres]

Starts each (no DAG running), waits 20 s, then sums the CPU time (user + system) of every process
below it over ``--seconds``: the share of the machine's cores Airflow takes from a database on
the same box. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))


def tree_cpu(root_pids: list[int]) -> float:
    total = 0.0
    seen: set[int] = set()
    for pid in root_pids:
        try:
            procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            if p.pid in seen:
                continue
            seen.add(p.pid)
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass
    return total


def measure(root_pids: callable, seconds: float) -> dict:
    time.sleep(20)
    a = tree_cpu(root_pids())
    time.sleep(seconds)
    b = tree_cpu(root_pids())
    return {"cpu_s": round(b - a, 1), "cores_busy": round((b - a) / seconds, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument(
        "--admin-dsn",
        default=os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = ap.parse_args()
    from airflow_cluster import AirflowCluster
    from airflow_server import AirflowServer

    out: dict = {"seconds": args.seconds}
    server = AirflowServer(Path(tempfile.mkdtemp(prefix="bench_idle_standalone_")))
    server.start()
    try:
        out["standalone"] = measure(lambda: [server.proc.pid], args.seconds)
    finally:
        server.stop()
    meta = f"bench_idle_meta_{os.getpid()}"
    with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(meta)))
    cluster = AirflowCluster(
        Path(tempfile.mkdtemp(prefix="bench_idle_cluster_")),
        psycopg.conninfo.make_conninfo(args.admin_dsn, dbname=meta),
        "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    try:
        cluster.start()
        out["cluster"] = measure(lambda: list(cluster.pids().values()), args.seconds)
    finally:
        cluster.stop()
        with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(meta)))
    out["ratio_cluster_vs_standalone"] = round(
        out["cluster"]["cpu_s"] / max(out["standalone"]["cpu_s"], 0.1), 2
    )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
