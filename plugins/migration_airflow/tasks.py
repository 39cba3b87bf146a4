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


def ledgered_step(context: dict[str, Any], phase: str, step: str, details: dict[str, Any] | None = None):
    """``ledger.step`` for the run's database and context (a context manager yielding the details dict)."""
    from activity_migration.config import load_config

    return ledger.step(dsn_from_context(context), phase, step, run_context(context), load_config(), details)


def privilege_audit_task(phase: str):
    """The task that ends a phase: every privilege on the migration's objects as privileges.py
    lists it, or the run fails naming each extra or missing grant (docs/security.md)."""
    from airflow.sdk import task

    from .dag_defaults import APP_DB_POOL

    @task(
        task_id="privilege_audit",
        pool=APP_DB_POOL,
        doc_md="Read-only: compare the ACL of every object the migration owns (state schema, events, API "
        "functions, views) with the grant list in activity_migration/privileges.py; fail on any extra "
        "or missing grant and on a state table without row level security.",
    )
    def privilege_audit(**context: Any) -> dict[str, Any]:
        from activity_migration.config import load_config
        from activity_migration.privileges import require_clean

        with ledgered_step(context, phase, "privilege_audit") as out:
            out.update(require_clean(dsn_from_context(context), load_config()))
        return out

    return privilege_audit()


def phase_step_task(phase: str, step: str, doc_md: str, *, only: str | None = None):
    """The task ``step``: the ledgered core step of that name (in the ``STEPS`` of
    ``activity_migration.phases.<phase>``) for this run. ``only``: hand on just that key of its
    result (a plain XCom, not a dict)."""
    from airflow.sdk import task

    from .dag_defaults import APP_DB_POOL

    @task(task_id=step, pool=APP_DB_POOL, doc_md=doc_md, multiple_outputs=only is None)
    def run_phase_step(**context: Any) -> Any:
        import importlib

        from .runtime import run_step

        out = run_step(importlib.import_module(f"activity_migration.phases.{phase}").STEPS, step, context)
        return out if only is None else out[only]

    return run_phase_step()
