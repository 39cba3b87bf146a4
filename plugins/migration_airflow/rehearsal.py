"""The staging-rehearsal gate in front of every destructive production step.

``rehearsal_gate(phase=..., step=...)`` is a task: in ``staging`` it passes (a staging run IS
the rehearsal); in ``production`` it reads the staging ledger through
``activity_db_staging`` and stops with a message saying what is missing unless the same
phase and step, at the same project version, succeeded there within the allowed age with
its validations passed. The verdict and the evidence go into the production ledger and
into XCom (approval bodies show it).
"""
from __future__ import annotations

from typing import Any

from airflow.sdk import task

from activity_migration import ledger
from activity_migration.db import connection

from .runtime import dsn_for_conn_id, dsn_from_context, run_context


def rehearsal_gate(*, phase: str, step: str, task_id: str | None = None):
    """Build the gate task for ``phase``/``step`` (call inside a DAG context); returns the XComArg."""

    @task(task_id=task_id or f"{step}_rehearsal_gate",
          doc_md=f"Production only: require a recent successful staging rehearsal of {phase}/{step} "
                 "at this project version.")
    def gate(**context: Any) -> dict[str, Any]:
        from activity_migration.rehearsal import check_rehearsal

        ctx = run_context(context)
        if ctx.environment != "production":
            return {"required": False, "reason": "staging run: this run is the rehearsal"}
        max_age_days = float((context.get("params") or {}).get("rehearsal_max_age_days", 7))
        with connection(dsn_from_context(context)) as prod, connection(dsn_for_conn_id("activity_db_staging")) as stg:
            verdict = check_rehearsal(staging_conn=stg, phase=phase, step=step,
                                      project_version=ledger.project_version(), max_age_days=max_age_days)
            ledger.record(prod, phase, f"{step}_rehearsal_gate", "succeeded" if verdict["passed"] else "failed",
                          ctx, verdict)
        if not verdict["passed"]:
            from activity_migration.errors import GateClosed

            raise GateClosed(verdict["message"])
        return verdict

    return gate()
