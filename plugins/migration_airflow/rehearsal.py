"""The staging-rehearsal gate in front of every destructive production step.

``rehearsal_gate(phase=..., step=...)`` is a task: in ``staging`` it passes (a staging run IS
the rehearsal); in ``production`` it reads the staging ledger through
``activity_db_staging`` and stops with a message saying what is missing unless the same
phase and step, at the same project version, succeeded there within the allowed age with
its validations passed (the rule: ``activity_migration.rehearsal``). Demo mode does NOT
skip it. The verdict and the evidence go into the production ledger (step
``<step>_rehearsal_gate``) and into XCom; ``rehearsal_evidence(step)`` is the Jinja snippet
an approval body uses to show it.

The allowed age comes from the run's Param ``rehearsal_max_age_days`` when the DAG defines
one, else the Airflow Variable ``migration_rehearsal_max_age_days``, else 7 days. In production
either is held to the production limit (``activity_migration.run_rules.PRODUCTION_LIMITS``: more
than 0, at most 14 days): a larger value is lowered to 14 with a WARNING and the clamp is kept in
the gate's ledger row (``param_clamps``).

A production run in mode normal needs a staging rehearsal in mode normal; a demo-mode
production run (only on a database with the demo seed's mark) may use a demo-mode one.
"""

from __future__ import annotations

from typing import Any, Callable

from airflow.sdk import task

from activity_migration.connections import STAGING_CONN_ID
from activity_migration.db import connection
from activity_migration.errors import ConfigError
from activity_migration.rehearsal import DEFAULT_MAX_AGE_DAYS, enforce_rehearsal
from activity_migration.run_rules import clamp_value, log_clamp

from .dag_defaults import APP_DB_POOL
from .runtime import dsn_for_conn_id, dsn_from_context, param_clamps, params_of, raw_params, run_context

MAX_AGE_VARIABLE = "migration_rehearsal_max_age_days"


def gate_task_id(step: str) -> str:
    return f"{step}_rehearsal_gate"


def rehearsal_evidence(step: str, task_id: str | None = None) -> str:
    """Jinja for an approval body: the gate's evidence as Markdown (empty before the gate ran)."""
    tid = task_id or gate_task_id(step)
    return "{{ (ti.xcom_pull(task_ids='" + tid + "') or {}).get('markdown', '') }}"


def max_age_days(context: dict[str, Any]) -> float:
    """Allowed age of the staging rehearsal for this run (Param, else Variable, else 7 days)."""
    return max_age_days_and_clamps(context)[0]


def max_age_days_and_clamps(context: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """``(allowed age in days, production clamps)``: the Param, else the Variable, else 7 days.

    In production the value is held to the production limit (``run_rules``); a Variable value is
    clamped like the Param (the clamp names its source).

    :raises ConfigError: a value that is not a number, or not > 0 in production
    """
    if raw_params(context).get("rehearsal_max_age_days") not in (None, ""):
        return float(params_of(context)["rehearsal_max_age_days"]), param_clamps(
            context, "rehearsal_max_age_days"
        )
    try:
        from airflow.sdk import Variable

        value = Variable.get(MAX_AGE_VARIABLE, default=None)
    except Exception:  # outside a task
        value = None
    if value in (None, ""):
        return DEFAULT_MAX_AGE_DAYS, []
    environment = run_context(context).environment
    value, clamp = clamp_value(
        environment, "rehearsal_max_age_days", value, source=f"Variable {MAX_AGE_VARIABLE}"
    )
    if clamp:
        log_clamp(clamp)
    try:
        return float(value), [clamp] if clamp else []
    except (TypeError, ValueError):
        raise ConfigError(
            f"Airflow Variable {MAX_AGE_VARIABLE} must be a number of days, got {value!r}"
        ) from None


_max_age_days = max_age_days  # older name, used by the p5 DAG


def rehearsal_gate(
    *,
    phase: str,
    step: str | Callable[[dict[str, Any]], str],
    task_id: str | None = None,
    doc_md: str | None = None,
):
    """Build the gate task for ``phase``/``step`` (call inside a DAG context); returns the XComArg.

    :param phase: ledger phase id (``p2_dual_write``, ``p5_trigger_removal``, ``p6_cleanup``)
    :param step: the destructive step's ledger step (``switch``, ``cleanup``), or a function of the
        task context returning it when it depends on a Param
        (``lambda c: f"tier_{c['params']['tier']}_drop"``; then pass ``task_id``)
    :param task_id: default ``<step>_rehearsal_gate``
    :param doc_md: the task's doc, default one naming ``phase``/``step``
    """
    if not task_id:
        if callable(step):
            raise ValueError("rehearsal_gate: pass task_id when step is computed at run time")
        task_id = gate_task_id(step)
    shown = "<step computed at run time>" if callable(step) else step

    @task(
        task_id=task_id,
        pool=APP_DB_POOL,
        doc_md=doc_md
        or "Production only: require a recent successful, validated staging rehearsal of "
        f"{phase}/{shown} at this project version (read from the staging ledger). Staging runs pass: "
        "they are the rehearsal; demo mode does not skip this gate, and a normal-mode production run "
        "needs a normal-mode rehearsal. The verdict is recorded in the production ledger.",
    )
    def gate(**context: Any) -> dict[str, Any]:
        ctx = run_context(context)
        step_name = step(context) if callable(step) else step
        if ctx.environment != "production":
            from activity_migration.rehearsal import not_required_in_staging

            return not_required_in_staging(phase, step_name)
        days, clamps = max_age_days_and_clamps(context)
        with connection(dsn_from_context(context)) as prod:
            return enforce_rehearsal(
                production_conn=prod,
                staging_dsn=lambda: dsn_for_conn_id(STAGING_CONN_ID),
                phase=phase,
                step=step_name,
                ctx=ctx,
                max_age_days=days,
                clamps=clamps,
            )

    return gate()
