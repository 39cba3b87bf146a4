#!/usr/bin/env python3
"""`make demo`: the whole migration, end to end, on the embedded demo databases.

1. Starts the embedded Postgres and (re)creates two demo databases from airflow_settings.yaml:
   ``activity_db_staging`` (the rehearsal) and ``activity_db`` (playing production).
2. Seeds the demo application (18 tables, 64 logging triggers, N rows of history) into both.
3. For staging, then production: runs every migration DAG that exists, in order, with
   ``airflow dags test`` in demo mode (approvals skipped and recorded as such), while the
   workload generator plays the application's writes against that database.
4. Prints a summary that fits one screen (rows backfilled, quarantined by reason, the
   application's transactions ok/failed, approvals skipped, time per phase, per environment)
   and writes the full report (both ledgers side by side, workload detail, final status) to
   ``.local/demo-logs/report.md``. Failed application transactions must be 0: the migration
   is online.

Non-interactive; exit code 0 only when every run succeeded and no app transaction failed.
A database that is not embedded is never reset: point the connections at real databases
and this script refuses to seed them unless they are empty.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "include"))

from activity_migration.connections import connection_spec, resolve_dsn  # noqa: E402
from activity_migration.demo.realtime import create_demo_slot, drop_database_slots, publish_new_event_type  # noqa: E402

LOG_DIR = ROOT / ".local" / "demo-logs"
AIRFLOW_HOME = ROOT / ".local" / "airflow-demo"

# The migration, in order: (dag_id, conf beyond mode/environment, label).
PLAN: list[tuple[str, dict, str]] = [
    ("migration_p1_infrastructure", {}, "phase 1: events infrastructure"),
    ("migration_p2_dual_write", {}, "phase 2: dual write + cutoff"),
    ("migration_p3_read_path", {}, "phase 3: read path + read-source switch"),
    ("migration_p4_backfill", {"max_parallel_chunks": 2}, "phase 4: backfill of history"),
    ("migration_consistency_nightly", {"full_check": True}, "consistency check (full)"),
    *[
        (
            "migration_p5_trigger_removal",
            {"tier": n, "sensor_window_seconds": 8, "sensor_timeout_minutes": 5},
            f"phase 5: trigger tier {n}",
        )
        for n in range(1, 6)
    ],
    ("migration_p6_cleanup", {"validation_max_age_hours": 24}, "phase 6: archive + cleanup"),
]


def reset_embedded_database(conn_id: str) -> str:
    """Drop and recreate the demo database of an embedded connection; refuse anything else."""
    import psycopg
    from psycopg import sql

    spec = connection_spec(conn_id)
    dsn = resolve_dsn(conn_id)
    if not spec.embedded:
        return dsn  # a real database: never dropped; seeding refuses a foreign non-empty one
    admin = psycopg.conninfo.make_conninfo(dsn, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        drop_database_slots(conn, spec.schema)  # a database holding a logical slot cannot be dropped
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(spec.schema)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(spec.schema)))
    return dsn


class BackgroundWorkload:
    """The application's writes, played during the phases (proves the migration is online)."""

    def __init__(self, dsn: str, rate: float) -> None:
        self.dsn, self.rate = dsn, rate
        self.stop = threading.Event()
        self.report = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from activity_migration.demo.workload import run_workload

        self.report = run_workload(
            self.dsn, seconds=24 * 3600, rate=self.rate, connections=2, stop_event=self.stop
        )

    def __enter__(self) -> "BackgroundWorkload":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=120)


def run_dag(env: dict[str, str], dag_id: str, conf: dict, environment: str) -> tuple[bool, float, Path]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    tag = conf.get("tier")
    log_path = LOG_DIR / f"{environment}-{dag_id}{'-tier' + str(tag) if tag else ''}.log"
    full_conf = {"mode": "demo", "environment": environment, **conf}
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "airflow"),
                "dags",
                "test",
                dag_id,
                "--conf",
                json.dumps(full_conf),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    ok = proc.returncode == 0 and "state=failed" not in log_path.read_text()[-4000:]
    return ok, time.monotonic() - started, log_path


def print_summary(
    dsns: dict[str, str], workloads: dict[str, object], phase_seconds: dict[str, dict[str, float]]
) -> None:
    """The last screen: what happened, per environment, in a few figures (fits in 40 lines)."""
    from activity_migration.run_summary import migration_counts, phase_times_table, summary_table

    figures: dict[str, dict] = {}
    for environment, dsn in dsns.items():
        report = workloads.get(environment)
        figures[environment] = dict(
            migration_counts(dsn),
            phase_seconds=phase_seconds.get(environment, {}),
            tx_ok=getattr(report, "ok", 0),
            tx_failed=getattr(report, "failed", 0),
        )
    print("\n== summary")
    print("\n".join(summary_table(figures)))
    print()
    print("\n".join(phase_times_table(figures)))


def print_outcome(dsns: dict[str, str]) -> None:
    """Promised vs measured gains (production, else the last environment) and the report's path."""
    from activity_migration.ledger import RunContext
    from activity_migration.outcome.report import promised_lines, write_report

    environment = "production" if "production" in dsns else list(dsns)[-1]
    out = write_report(
        dsns[environment],
        measure=False,
        ctx=RunContext(environment=environment),
        staging_dsn=dsns.get("staging"),
    )
    print(f"\n== promised vs measured ({environment})")
    print("\n".join(promised_lines(out["figures"])))
    print(f"   outcome report: {Path(out['html']).relative_to(ROOT)}")


def write_full_report(dsns: dict[str, str], workloads: dict[str, object], last: str) -> Path:
    """Both ledgers side by side, the workload detail and the status page's text, in one file."""
    from activity_migration.rehearsal import rehearsal_report

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    path = LOG_DIR / "report.md"
    parts = ["# Demo report\n"]
    if len(dsns) == 2:
        parts += [
            "## Ledgers, staging beside production\n",
            rehearsal_report(dsns["staging"], dsns["production"]),
        ]
    for environment, report in workloads.items():
        if report is not None:
            parts += [f"\n## Workload on {environment}\n", "```", report.summary(), "```"]
    status = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "activity-migration"), "status", "--dsn", dsns[last]],
        capture_output=True,
        text=True,
        check=False,
    )
    parts += [f"\n## Status of {last}\n", "```", status.stdout.rstrip(), status.stderr.rstrip(), "```"]
    path.write_text("\n".join(parts) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole migration on the embedded demo databases.")
    parser.add_argument(
        "--rows", type=int, default=200_000, help="rows of activity history to seed (default 200000)"
    )
    parser.add_argument("--rate", type=float, default=15.0, help="workload transactions/s during the phases")
    parser.add_argument("--only", choices=["staging", "production"], help="run one environment only")
    args = parser.parse_args(argv)

    from airflow_env import build_env  # scripts/airflow_env.py

    from activity_migration import metrics
    from activity_migration.demo.seed import seed

    environments = [args.only] if args.only else ["staging", "production"]
    conn_ids = {"staging": "activity_db_staging", "production": "activity_db"}
    dsns = {}
    print(f"== preparing the demo databases ({args.rows:,} rows of history each)")
    for environment in environments:
        dsns[environment] = reset_embedded_database(conn_ids[environment])
        started = time.monotonic()
        seed(dsns[environment], rows=args.rows)
        metrics.enable_statement_stats(dsns[environment])
        print(f"   {environment:<10} {create_demo_slot(dsns[environment])}")
        print(f"   {environment:<10} seeded in {time.monotonic() - started:.1f} s")

    env = dict(os.environ)
    env.update(build_env(home=AIRFLOW_HOME))
    # One project version for both passes: production's rehearsal gate compares it with staging's.
    from activity_migration.ledger import project_version

    env["ACTIVITY_MIGRATION_VERSION"] = os.environ.get("ACTIVITY_MIGRATION_VERSION") or project_version()
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "airflow"), "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    workloads: dict[str, object] = {}
    phase_seconds: dict[str, dict[str, float]] = {e: {} for e in environments}
    failures = []
    for environment in environments:
        print(f"== {environment}: running the migration DAGs (logs in {LOG_DIR.relative_to(ROOT)}/)")
        with BackgroundWorkload(dsns[environment], args.rate) as workload:
            for dag_id, conf, label in PLAN:
                if not (ROOT / "dags" / f"{dag_id}.py").exists():
                    print(f"   -        {label:<42} (DAG not in this version)")
                    continue
                ok, seconds, log_path = run_dag(env, dag_id, conf, environment)
                print(f"   {'ok' if ok else 'FAILED':<8} {label:<42} {seconds:6.1f} s")
                phase_seconds[environment][label] = seconds
                if not ok:
                    failures.append((environment, label, log_path))
                    tail = log_path.read_text().splitlines()[-25:]
                    print("      " + "\n      ".join(tail))
                    break
        workloads[environment] = workload.report
        if failures:
            break

    publish_new_event_type(
        dsns[environments[-1]]
    )  # a service call with a type nobody registered: see the report
    report_path = write_full_report(dsns, workloads, environments[-1])
    print_summary(dsns, workloads, phase_seconds)
    print(f"\n   full report (both ledgers, workload detail, status): {report_path.relative_to(ROOT)}")
    if not failures:
        print_outcome(dsns)
    bad_tx = sum(getattr(r, "failed", 0) for r in workloads.values() if r is not None)
    if failures:
        print(f"\nDEMO FAILED at {failures[0][0]} / {failures[0][1]}: see {failures[0][2]}")
        return 1
    if bad_tx:
        print(f"\nDEMO FAILED: {bad_tx} application transactions failed during the migration")
        return 1
    print(
        "\nDemo complete: every phase ran in staging, then in production, with the application writing "
        "throughout."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
