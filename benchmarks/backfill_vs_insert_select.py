"""Backfill vs one INSERT … SELECT, side by side in one run (ratios, not a timed test).

    .venv/bin/python benchmarks/backfill_vs_insert_select.py [--rows 2000000] [--workers 2]
        [--runner cli|standalone] [--max-app-p95-ratio X|off] [--yield-ratio Y] [--keep-search-index]
        [--admin-dsn postgresql://postgres@127.0.0.1:5432/postgres]

1. seeds a fresh database with the demo app and ``--rows`` history rows, applies phases 1 and 2
   (dual write on, cutoff recorded);
2. baseline: one ``INSERT … SELECT`` of the same mapping (same rules, same quarantine filter)
   into ``events_baseline`` (``CREATE TABLE … (LIKE events INCLUDING ALL)``), same database;
3. backfill: ``--runner cli`` runs ``activity-migration backfill --workers N`` (the same core the
   DAG's mapped workers call); ``--runner standalone`` starts ``airflow standalone`` (LocalExecutor,
   SQLite, temp AIRFLOW_HOME), triggers ``migration_p4_backfill`` over REST with
   ``max_parallel_chunks=N`` and measures trigger → run success;
4. while the backfill runs, the demo workload writes (publish auto) and a sampler polls
   ``pg_stat_activity`` for the longest lock wait; the same workload also runs idle before and
   after (15 s each; idle p95 = the mean of both, as the shared machine's load drifts).

Prints one JSON object: seconds, ratio backfill/baseline, workload p95 idle vs during, longest lock wait,
the latency controller's baseline and decisions, the deferred index build (its seconds are inside
the backfill's: the CLI's last step and the DAG's last task); writes it and an SVG plot (app
latency and copy rate over time) to benchmarks/results/
backfill_<rows>_<runner>_objective-<x>_<time>.{json,svg}.
The baseline INSERT … SELECT writes into a copy of events with every index (INCLUDING ALL).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
import backfill_figures  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(os.environ.get("BENCH_VENV_BIN", ROOT / ".venv" / "bin"))


# One INSERT … SELECT of the backfill's mapping (same rules, same quarantine filter) into
# {target}; a psycopg.sql template (also used by index_cost_during_copy.py).
MAPPING_INSERT = """
            INSERT INTO {target}
                   (event_type, category, actor_id, customer_id, entity_type, entity_id, description,
                    payload, source, legacy_activity_log_id, ip_address, user_agent, occurred_at)
            SELECT m.event_type, c.category, m.user_id, m.customer_id, m.entity_type, m.entity_id,
                   m.description, m.payload, 'backfill', m.id, m.ip_address, m.user_agent, m.created_at
              FROM (SELECT s.*, activity_migration.event_type_for(s.entity_type, s.action) AS event_type,
                           coalesce(s.metadata, '{{}}'::jsonb) AS payload
                      FROM public.activity_logs s
                     WHERE NOT EXISTS (SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = s.id)) m
              JOIN activity_migration.entity_categories c ON c.entity_type = m.entity_type
             WHERE activity_migration.event_rejection_reason(m.event_type, m.entity_type, m.payload,
                                                             m.created_at, m.description, m.action) IS NULL
            ON CONFLICT (legacy_activity_log_id) DO NOTHING"""


def _dsn(admin: str, db: str) -> str:
    return psycopg.conninfo.make_conninfo(admin, dbname=db)


def prepare(admin: str, rows: int) -> str:
    from activity_migration import metrics
    from activity_migration.config import load_config
    from activity_migration.demo.seed import seed
    from activity_migration.ledger import RunContext
    from activity_migration.phases import p1_infrastructure, p2_dual_write

    name = f"bench_p4_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = _dsn(admin, name)
    t = time.monotonic()
    seed(dsn, rows=rows)
    print(f"seeded {rows} rows in {time.monotonic() - t:.0f} s", file=sys.stderr)
    if metrics.enable_statement_stats(dsn):  # as on Supabase: the controller reads the app's writes
        print("pg_stat_statements: installed", file=sys.stderr)
    cfg = load_config()
    ctx = RunContext(environment="staging", mode="demo", actor="benchmark")
    p1_infrastructure.apply(dsn, cfg, ctx)
    p2_dual_write.apply(dsn, cfg, ctx)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE public.activity_logs")
        conn.execute("CHECKPOINT")
    return dsn


def baseline(dsn: str) -> tuple[float, int]:
    """One INSERT … SELECT of the same mapping into a fresh copy of the events table."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.events_baseline")
        conn.execute("CREATE TABLE public.events_baseline (LIKE public.events INCLUDING ALL)")
        conn.execute("CHECKPOINT")
        t = time.monotonic()
        n = conn.execute(
            sql.SQL(MAPPING_INSERT).format(target=sql.Identifier("public", "events_baseline"))
        ).rowcount
        elapsed = time.monotonic() - t
        conn.execute("DROP TABLE public.events_baseline")
        conn.execute("CHECKPOINT")
    return elapsed, n


class LockSampler(threading.Thread):
    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn, self.stop, self.longest, self.longest_app = dsn, threading.Event(), 0.0, 0.0

    def run(self) -> None:
        from activity_migration import metrics

        with psycopg.connect(self.dsn, autocommit=True, application_name="bench-sampler") as conn:
            while not self.stop.is_set():
                self.longest = max(self.longest, metrics.longest_lock_wait_s(conn))
                self.longest_app = max(self.longest_app, metrics.longest_lock_wait_s(conn, others_only=True))
                time.sleep(0.05)


def workload(dsn: str, seconds: float, rate: float, stop: threading.Event | None = None):
    from activity_migration.demo.workload import run_workload

    return run_workload(dsn, seconds=seconds, rate=rate, connections=4, stop_event=stop)


class CliRunner:
    """``activity-migration backfill --workers N`` (the same core the DAG's mapped workers call)."""

    def __init__(self, dsn: str, workers: int, chunk_rows: int | None, extra: list[str]) -> None:
        self.cmd = [
            str(VENV_BIN / "activity-migration"),
            "backfill",
            "--dsn",
            dsn,
            "--workers",
            str(workers),
            "--no-check",
        ]
        self.cmd += (["--initial-chunk-rows", str(chunk_rows)] if chunk_rows else []) + extra
        self.details: dict = {}

    def __enter__(self) -> "CliRunner":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def run(self) -> float:
        t = time.monotonic()
        out = subprocess.run(self.cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        return time.monotonic() - t


class StandaloneRunner:
    """The backfill DAG end to end under ``airflow standalone`` (scheduler + LocalExecutor).

    The server is the end-to-end tests' (tests/e2e/airflow_server.py: private home, free ports
    for the API and both log servers, the project's pools, stopped with SIGINT). It is up for
    the idle workload runs too: in production Airflow runs on other machines than the
    database, so on this one box its own processes are part of "idle", not of the backfill.
    """

    def __init__(self, dsn: str, workers: int, chunk_rows: int | None, settings: dict) -> None:
        sys.path.insert(0, str(ROOT / "tests" / "e2e"))
        from airflow_server import AirflowServer

        self.dsn, self.details = dsn, {}
        self.conf = {
            "mode": "demo",
            "max_parallel_chunks": workers,
            **({"initial_chunk_rows": chunk_rows} if chunk_rows else {}),
            **settings,
        }
        self.server = AirflowServer(Path(tempfile.mkdtemp(prefix="bench_airflow_")))

    def __enter__(self) -> "StandaloneRunner":
        try:
            self.server.start()
            self.server.set_postgres_connection("activity_db_staging", self.dsn)
            self.server.wait_for_dag("migration_p4_backfill")
        except BaseException:
            self.server.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()

    def run(self) -> float:
        server = self.server
        t = time.monotonic()
        run_id = server.trigger("migration_p4_backfill", self.conf)
        state = server.wait_run("migration_p4_backfill", run_id, timeout=4 * 3600)
        elapsed = time.monotonic() - t
        tis = server.api("GET", server.run_path("migration_p4_backfill", run_id) + "/taskInstances")[
            "task_instances"
        ]
        self.details["tasks"] = {
            f"{ti['task_id']}[{ti.get('map_index', -1)}]": {
                "state": ti["state"],
                "duration": ti.get("duration"),
            }
            for ti in tis
        }
        if state != "success":
            raise SystemExit(f"DAG run ended {state}: {self.details['tasks']}; log {server.log_path}")
        return elapsed


def runner_settings(args: argparse.Namespace) -> dict:
    """The backfill settings given on the command line, as DAG Params (the CLI runner spells them
    as flags): the same work for both runners."""
    out: dict = {}
    if args.chunk_target_seconds is not None:
        out["chunk_target_seconds"] = args.chunk_target_seconds
    if args.yield_ratio is not None:
        out["yield_ratio"] = args.yield_ratio
    if args.max_app_p95_ratio is not None:
        out["max_app_p95_ratio"] = None if args.max_app_p95_ratio == "off" else float(args.max_app_p95_ratio)
    if args.keep_search_index:
        out["defer_search_index"] = False
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--chunk-rows", type=int, default=None, help="initial chunk rows (default: the backfill's)"
    )
    ap.add_argument("--chunk-target-seconds", type=float, default=None, help="default: the backfill's")
    ap.add_argument("--yield-ratio", type=float, default=None, help="default: the backfill's")
    ap.add_argument("--max-app-p95-ratio", default=None, help="the objective, or 'off'")
    ap.add_argument("--keep-search-index", action="store_true", help="no deferred GIN")
    ap.add_argument("--runner", choices=["cli", "standalone"], default="cli")
    ap.add_argument("--workload-rate", type=float, default=20.0)
    ap.add_argument(
        "--admin-dsn",
        default=os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = ap.parse_args()

    dsn = prepare(args.admin_dsn, args.rows)
    result: dict = {
        "rows": args.rows,
        "workers": args.workers,
        "runner": args.runner,
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "max_app_p95_ratio": args.max_app_p95_ratio,
    }
    try:
        base_s, base_rows = baseline(dsn)
        result.update(baseline_s=round(base_s, 1), baseline_rows=base_rows)
        print(f"baseline INSERT … SELECT: {base_s:.1f} s, {base_rows} rows", file=sys.stderr)

        settings = runner_settings(args)
        if args.runner == "cli":
            extra = []
            for name, value in settings.items():
                if name == "defer_search_index":
                    extra += ["--keep-search-index"]
                else:
                    extra += ["--" + name.replace("_", "-"), "off" if value is None else str(value)]
            runner = CliRunner(dsn, args.workers, args.chunk_rows, extra)
        else:
            # for the record: the application alone on the box, before Airflow starts
            result["workload_idle_without_airflow_p95_ms"] = workload(
                dsn, 15, args.workload_rate
            ).latency_p95_ms
            runner = StandaloneRunner(dsn, args.workers, args.chunk_rows, settings)

        with runner:
            idle = workload(dsn, seconds=15, rate=args.workload_rate)
            sampler = LockSampler(dsn)
            sampler.start()
            stop = threading.Event()
            during: dict = {}
            load = threading.Thread(
                target=lambda: during.update(r=workload(dsn, 3600, args.workload_rate, stop))
            )
            load.start()
            try:
                bf_s = runner.run()
            finally:
                stop.set()
                load.join()
                sampler.stop.set()
                sampler.join()
            wl = during["r"]
            # idle again right after (the machine is shared: its load drifts); idle = mean of both
            idle_after = workload(dsn, seconds=15, rate=args.workload_rate)
        result.update(runner.details)
        idle_p95 = (idle.latency_p95_ms + idle_after.latency_p95_ms) / 2
        result.update(
            workload_idle_p95_ms=round(idle_p95, 1),
            workload_idle_before_p95_ms=idle.latency_p95_ms,
            workload_idle_after_p95_ms=idle_after.latency_p95_ms,
        )
        with psycopg.connect(dsn) as conn:
            copied = conn.execute("SELECT count(*) FROM public.events WHERE source = 'backfill'").fetchone()[
                0
            ]
            chunks = conn.execute(
                "SELECT count(*), max(extract(epoch FROM finished_at - started_at)) "
                "FROM activity_migration.backfill_chunks"
            ).fetchone()
        result.update(
            backfill_s=round(bf_s, 1),
            backfill_rows=copied,
            ratio=round(bf_s / base_s, 2),
            chunks=chunks[0],
            longest_chunk_s=round(float(chunks[1] or 0), 2),
            workload_during_p95_ms=wl.latency_p95_ms,
            workload_during_failed=wl.transactions_failed,
            workload_during_ok=wl.transactions_ok,
            p95_ratio=round(wl.latency_p95_ms / idle_p95, 2) if idle_p95 else None,
            longest_lock_wait_s=round(sampler.longest, 3),
            longest_app_lock_wait_s=round(sampler.longest_app, 3),
        )
        result.update(backfill_figures.controller_figures(dsn))
        result["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if not args.keep:
            name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
            with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    if "backfill_s" in result:
        print(f"figures: {backfill_figures.save(result)}.json/.svg", file=sys.stderr)
    print(json.dumps({k: v for k, v in result.items() if k != "per_chunk"}, indent=2, default=str))


if __name__ == "__main__":
    main()
