"""Run application writes in a background thread around a phase call and report failures.

Uses the demo workload generator (``activity_migration.demo.workload.run_workload``) when it
is installed; otherwise a small writer that updates and inserts rows of logged demo tables
(triggers fire exactly as for the app). Either way the result has ``.failed``.
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import psycopg


@dataclass
class Report:
    failed: int = 0
    committed: int = 0
    errors: list[str] = field(default_factory=list)


def _fallback(dsn: str, stop: threading.Event, report: Report) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '30s'")
        while not stop.is_set():
            try:
                with conn.transaction():
                    conn.execute("UPDATE public.payment_plans SET status = status WHERE ctid = "
                                 "(SELECT ctid FROM public.payment_plans ORDER BY random() LIMIT 1)")
                    conn.execute("UPDATE public.notifications SET updated_at = now() WHERE ctid = "
                                 "(SELECT ctid FROM public.notifications ORDER BY random() LIMIT 1)") \
                        if _has_column(conn, "notifications", "updated_at") else None
                report.committed += 1
            except psycopg.Error as exc:
                report.failed += 1
                report.errors.append(str(exc).splitlines()[0])
            time.sleep(0.005)


_cols: dict = {}


def _has_column(conn, table: str, column: str) -> bool:
    key = (table, column)
    if key not in _cols:
        _cols[key] = bool(conn.execute("SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s",
                                       (f"public.{table}", column)).fetchone())
    return _cols[key]


@contextlib.contextmanager
def background_workload(dsn: str, rate: int = 40) -> Iterator[dict]:
    """Yield a dict that holds ``report`` (with ``.failed``) once the block ends."""
    stop = threading.Event()
    holder: dict = {}
    try:
        from activity_migration.demo.workload import run_workload  # type: ignore

        def target() -> None:
            holder["report"] = run_workload(dsn, seconds=600, rate=rate, connections=2, publish="auto",
                                            stop_event=stop)
    except ImportError:
        rep = Report()
        holder["report"] = rep

        def target() -> None:
            _fallback(dsn, stop, rep)
    th = threading.Thread(target=target, daemon=True)
    th.start()
    time.sleep(0.5)
    try:
        yield holder
    finally:
        stop.set()
        th.join(timeout=60)
