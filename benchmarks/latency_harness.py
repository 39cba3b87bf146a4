"""What the logged-insert latency benchmarks share: arguments, a scratch demo database, timed
blocks of single-row inserts and their statistics.

Used by dual_write_latency.py (legacy trigger vs dual write) and registry_dual_write_latency.py
(event-type registry recount off vs on); each alternates blocks of its two modes in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import uuid
from typing import Any, Iterator

import psycopg
from psycopg import sql

INSERT = (
    "INSERT INTO public.notifications (customer_id, user_id, recipient_id, kind, title, body) "
    "VALUES (%s, %s, %s, 'info', 'Benchmark', 'one logged insert')"
)
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def arguments(description: str, argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--admin-dsn", default=ADMIN_DSN)
    p.add_argument("--inserts", type=int, default=2000, help="inserts per mode (total)")
    p.add_argument("--blocks", type=int, default=4, help="alternating blocks per mode")
    p.add_argument("--rows", type=int, default=20000, help="activity_logs history rows to seed")
    return p.parse_args(argv)


@contextlib.contextmanager
def scratch_database(admin_dsn: str, prefix: str) -> Iterator[str]:
    """A new database for one run (its DSN), dropped afterwards whatever happens."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def demo_after_phase_1(args: argparse.Namespace, prefix: str) -> Iterator[tuple[str, Any, Any]]:
    """(dsn, cfg, ctx) of a scratch database holding the demo application (``args.rows`` history
    rows) with phase 1 applied: where both write-latency benchmarks start."""
    from activity_migration.config import load_config
    from activity_migration.demo.seed import seed
    from activity_migration.ledger import RunContext
    from activity_migration.phases import p1_infrastructure

    cfg, ctx = load_config(), RunContext(environment="staging", mode="demo", actor="benchmark")
    with scratch_database(args.admin_dsn, prefix) as dsn:
        seed(dsn, rows=args.rows, progress=lambda s: None)
        p1_infrastructure.apply(dsn, cfg, ctx)
        yield dsn, cfg, ctx


def notification_ids(dsn: str) -> tuple:
    """(customer_id, user_id, recipient_id) of a seeded notification: the values every insert uses."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT customer_id, user_id, recipient_id FROM public.notifications LIMIT 1"
        ).fetchone()
    if row is None:
        raise SystemExit("the seeded database has no notification to copy ids from")
    return tuple(row)


def timed_block(dsn: str, n: int, ids: tuple) -> list[float]:
    """Milliseconds of ``n`` single-row logged inserts, each its own transaction (commit included)."""
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(INSERT, ids)  # warm the plan cache of this session
        for _ in range(n):
            t = time.perf_counter()
            conn.execute(INSERT, ids)
            out.append((time.perf_counter() - t) * 1000)
    return out


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 3),
        "p95": round(percentile(values, 0.95), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def ratios(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {f"ratio_{k}": round(after[k] / before[k], 3) for k in ("p50", "p95", "mean")}
