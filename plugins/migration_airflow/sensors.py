"""Sensors of phase 5: after a tier's triggers are dropped, watch its write cost and its event flow.

Each ``poke`` calls one core predicate (``activity_migration.phases.p5_trigger_removal``)
that answers pass / wait / fail. Windows are kept in the database, so ``mode="reschedule"``
(a fresh process per poke, no worker slot held between pokes) loses nothing. ``timeout``
comes from the run's Param ``sensor_timeout_minutes``; a timeout or a ``fail`` verdict fails
the task, and the DAG's alert task mails the figures.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException

from .runtime import dsn_from_context, params_of, run_context


class _TierSensor(BaseSensorOperator):
    """Common part: timeout from Params, verdict → True / False / AirflowFailException."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", timedelta(seconds=10))
        kwargs.setdefault("retries", 0)  # a failed sensor is a finding, not a glitch: alert instead
        super().__init__(**kwargs)

    def execute(self, context: Any) -> Any:
        self.timeout = float(params_of(context).get("sensor_timeout_minutes", 30)) * 60.0
        return super().execute(context)

    def _judge(self, context: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def poke(self, context: Any) -> bool:
        verdict = self._judge(context)
        self.log.info("%s: %s %s", verdict.state, verdict.message, verdict.figures or "")
        if verdict.state == "fail":
            raise AirflowFailException(verdict.message)
        return verdict.passed


def _tier_poke_args(context: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(dsn, cfg, run context, tier) and the measuring window: what every tier sensor's core
    predicate takes first."""
    from activity_migration.config import load_config

    p = params_of(context)
    args = (dsn_from_context(context), load_config(), run_context(context), int(p["tier"]))
    return args, {"window_s": float(p["sensor_window_seconds"])}


class TierWriteCostSensor(_TierSensor):
    """Pass when the tier's write cost after the drop has not regressed beyond ``max_regression_pct``."""

    def _judge(self, context: Any) -> Any:
        from activity_migration.phases import p5_trigger_removal as p5

        args, kwargs = _tier_poke_args(context)
        p = params_of(context)
        return p5.performance_poke(
            *args,
            **kwargs,
            max_regression_pct=float(p["max_regression_pct"]),
            probe_writes=int(p["probe_writes"]),
        )


class TierEventFlowSensor(_TierSensor):
    """Pass when writes to the tier's tables still produce events (events/writes ≥ ``min_event_ratio``)."""

    def _judge(self, context: Any) -> Any:
        from activity_migration.phases import p5_trigger_removal as p5

        args, kwargs = _tier_poke_args(context)
        return p5.event_flow_poke(*args, **kwargs, min_ratio=float(params_of(context)["min_event_ratio"]))


class TierReadinessSensor(_TierSensor):
    """Before the drop: pass when the application's publishes cover the triggers' writes on every
    table of the tier (the handover, ``activity_migration.phases.p5_handover``)."""

    def _judge(self, context: Any) -> Any:
        from activity_migration.phases import p5_handover

        args, kwargs = _tier_poke_args(context)
        return p5_handover.readiness_poke(
            *args, **kwargs, min_ratio=float(params_of(context)["min_event_ratio"])
        )
