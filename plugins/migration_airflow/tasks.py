"""Small helpers the thin DAG files share: open the run's database and ledger a step."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import psycopg

from activity_migration import ledger
from activity_migration.db import connection

from .runtime import dsn_from_context, run_context


@contextlib.contextmanager
def app_db(context: dict[str, Any], **kwargs: Any) -> Iterator[psycopg.Connection]:
    """A connection to the application database of the run's environment."""
    with connection(dsn_from_context(context), **kwargs) as conn:
        yield conn


@contextlib.contextmanager
def ledgered_step(context: dict[str, Any], phase: str, step: str, details: dict[str, Any] | None = None
                  ) -> Iterator[dict[str, Any]]:
    """Record ``step`` as started, then succeeded (with whatever the body put in the yielded dict) or failed.

    Needs the state schema (phase 1 creates it first thing).
    """
    dsn = dsn_from_context(context)
    ctx = run_context(context)
    out: dict[str, Any] = dict(details or {})
    with connection(dsn) as conn:
        ledger.ensure_state_schema(conn)
        ledger_id = ledger.record(conn, phase, step, "started", ctx, out, finished=False)
    try:
        yield out
    except BaseException as exc:
        with connection(dsn) as conn:
            ledger.finish(conn, ledger_id, "failed", {"error": f"{type(exc).__name__}: {exc}"[:2000]})
        raise
    with connection(dsn) as conn:
        ledger.finish(conn, ledger_id, "succeeded", out)


def privilege_audit_task(phase: str):
    """The task that ends a phase: every privilege on the migration's objects as privileges.py
    lists it, or the run fails naming each extra or missing grant (docs/security.md)."""
    from airflow.sdk import task

    from .dag_defaults import APP_DB_POOL

    @task(task_id="privilege_audit", pool=APP_DB_POOL,
          doc_md="Read-only: compare the ACL of every object the migration owns (state schema, events, API "
                 "functions, views) with the grant list in activity_migration/privileges.py; fail on any extra "
                 "or missing grant and on a state table without row level security.")
    def privilege_audit(**context: Any) -> dict[str, Any]:
        from activity_migration.config import load_config
        from activity_migration.privileges import require_clean

        with ledgered_step(context, phase, "privilege_audit") as out:
            out.update(require_clean(dsn_from_context(context), load_config()))
        return out

    return privilege_audit()
