"""The write load of a test application: N threads, each one signed-in user writing in its own
transactions at a shared rate until stopped, every outcome counted.

A test application subclasses ``AppLoad`` and implements ``one(conn, rng, i, state)`` (one
application request: its write(s) and, once told, its publish; returns ``(published, logged)``:
the events it published itself and the log rows the request produced, trigger's or its own)
and optionally ``setup`` (what must exist before the threads start) and ``new_state``. Each thread calls
    ``one`` in a fresh transaction as ``authenticated`` with the
JWT claims of its user (``user_of(i)``).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

# Phase 5 tells the application which tables it must publish for (public.activity_publisher).
TOLD_TO_PUBLISH = "SELECT public.activity_publisher(%s) = 'application'"


@dataclass
class LoadReport:
    ok: int = 0
    failed: int = 0
    published: int = 0
    logged_dml: int = 0  # writes whose log row a trigger or the application wrote
    errors: list[str] = field(default_factory=list)


def told_to_publish(conn: psycopg.Connection, table: str) -> bool:
    """The application's question after a write to ``table`` (False before phase 1 built the function)."""
    if not conn.execute("SELECT to_regprocedure('public.activity_publisher(text)') IS NOT NULL").fetchone()[
        0
    ]:
        return False
    try:
        with conn.transaction():  # a function dropped a moment ago (rollback) must not fail the write
            return bool(conn.execute(TOLD_TO_PUBLISH, (table,)).fetchone()[0])
    except psycopg.errors.UndefinedFunction:
        return False


class AppLoad:
    """The application's writes from ``connections`` threads until stopped (a context manager)."""

    application_name = "test-app-load"

    def __init__(self, dsn: str, *, rate: float = 20.0, connections: int = 2, seed: int = 7) -> None:
        self.dsn, self.interval, self.connections = dsn, connections / rate, connections
        self.stop_event = threading.Event()
        self.report = LoadReport()
        self.lock = threading.Lock()
        self.seed = seed
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(connections)
        ]

    # -- what a subclass says --------------------------------------------------------------
    def user_of(self, i: int) -> uuid.UUID:
        return uuid.UUID(int=random.Random(self.seed + i).getrandbits(128))

    def setup(self, conn: psycopg.Connection) -> None:
        """Before the threads start (autocommit connection as the database owner)."""

    def new_state(self, i: int) -> Any:
        return {}

    def one(self, conn: psycopg.Connection, rng: random.Random, i: int, state: Any) -> tuple[int, int]:
        raise NotImplementedError

    # -- the machinery ---------------------------------------------------------------------
    def __enter__(self) -> "AppLoad":
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            self.setup(conn)
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> LoadReport:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
        return self.report

    def _run(self, i: int) -> None:
        rng = random.Random(self.seed + i)
        rng.getrandbits(128)  # the user's id (user_of) was the first draw
        claims = json.dumps({"sub": str(self.user_of(i)), "role": "authenticated"})
        state = self.new_state(i)
        conn = None
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = psycopg.connect(self.dsn, application_name=self.application_name)
                with conn.transaction():
                    conn.execute("SET LOCAL ROLE authenticated")
                    conn.execute(
                        "SELECT set_config('request.jwt.claims', %s, true), "
                        "set_config('statement_timeout', '5s', true)",
                        (claims,),
                    )
                    published, logged = self.one(conn, rng, i, state)
                with self.lock:
                    self.report.ok += 1
                    self.report.logged_dml += logged
                    self.report.published += published
            except Exception as exc:  # noqa: BLE001 - every failure is counted and kept
                with self.lock:
                    self.report.failed += 1
                    if len(self.report.errors) < 5:
                        self.report.errors.append(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.close()
                conn = None
            self.stop_event.wait(max(0.0, self.interval - (time.monotonic() - started)))
        if conn is not None:
            conn.close()
