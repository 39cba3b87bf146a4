"""Params every phase DAG shares, so the trigger forms look and behave the same.

Gate-weakening Params carry their production limit in their description (``limited``): the
sentence comes from the one table of limits, ``activity_migration.run_rules.PRODUCTION_LIMITS``,
so the form says exactly what ``runtime.params_of`` enforces.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from activity_migration.run_rules import APPROVERS_VARIABLE, limit_description


def choice(default: Any, options: list[Any], title: str, description: str, **kwargs: Any) -> Param:
    """A Param picked from ``options`` (a drop-down in the trigger form); ``type`` defaults to string."""
    kwargs.setdefault("type", "string")
    return Param(default, enum=options, title=title, description=description, **kwargs)


def flag(default: bool, title: str, description: str) -> Param:
    """A yes/no Param (a switch in the trigger form)."""
    return Param(default, type="boolean", title=title, description=description)


def integer_range(default: int, minimum: int, maximum: int, title: str, description: str) -> Param:
    """A whole number between ``minimum`` and ``maximum`` (both included)."""
    return _ranged("integer", default, minimum, maximum, title, description)


def number_range(
    default: float | None,
    minimum: float,
    maximum: float,
    title: str,
    description: str,
    *,
    nullable: bool = False,
) -> Param:
    """A number between ``minimum`` and ``maximum`` (both included); ``nullable``: empty allowed."""
    return _ranged(
        ["null", "number"] if nullable else "number", default, minimum, maximum, title, description
    )


def _ranged(kind: Any, default: Any, minimum: Any, maximum: Any, title: str, description: str) -> Param:
    return Param(default, type=kind, minimum=minimum, maximum=maximum, title=title, description=description)


def environment_param() -> Param:
    return choice(
        "staging",
        ["staging", "production"],
        "Environment",
        "Which application database this run touches: staging (connection activity_db_staging) "
        "or production (activity_db). A destructive production step requires a recent successful "
        "staging rehearsal of the same phase and project version; production approvals are "
        f"answered only by the users in the Airflow Variable {APPROVERS_VARIABLE}, never by the "
        "user who triggered the run.",
    )


def mode_param() -> Param:
    return choice(
        "normal",
        ["normal", "demo"],
        "Mode",
        "normal: every gate waits for a person to approve in the UI (Required Actions). "
        "demo: approvals are skipped and the skip is recorded in the ledger. Demo is refused on any "
        "database without the demo seed's mark (written by `activity-migration seed`).",
    )


def limited(name: str, default: Any, *, description: str, **kwargs: Any) -> Param:
    """A Param whose description ends with its production limit (``run_rules.limit_description``)."""
    rule = limit_description(name)
    if not rule:
        raise ValueError(f"{name} has no production limit in activity_migration.run_rules")
    return Param(default, description=f"{description} {rule}", **kwargs)


def common_params(**extra: Param) -> dict[str, Param]:
    """environment + mode, then the DAG's own Params."""
    return {"environment": environment_param(), "mode": mode_param(), **extra}


def record_param_clamps(context: dict[str, Any], phase: str, step: str, *names: str) -> int | None:
    """Add this run's production clamps of ``names`` to the ledger row of ``phase``/``step``.

    For a step whose ledger row the core writes (p6 ``archive``, p5 ``tier_<n>_done``): after the
    step, its newest row of this DAG run gets ``details.param_clamps``. Returns that row's id, or
    None when nothing was clamped (or the step left no row).
    """
    from psycopg import sql
    from psycopg.types.json import Jsonb

    from activity_migration.config import load_config
    from activity_migration.db import connection, load_sql, scalar

    from .runtime import dsn_from_context, param_clamps

    clamps = param_clamps(context, *names)
    if not clamps:
        return None
    cfg = load_config()
    table = sql.Identifier(cfg.state_schema, "phase_ledger")
    run_id = getattr(context.get("dag_run"), "run_id", None)
    with connection(dsn_from_context(context)) as conn:
        row_id = scalar(
            conn,
            load_sql("airflow_ui/01_record_param_clamps.sql", ledger=table),
            (Jsonb(clamps), phase, step, run_id),
        )
        conn.commit()
    return row_id
