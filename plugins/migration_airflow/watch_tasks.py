"""Airflow side of the event-type registry and the realtime watch.

- :func:`run_nightly_watch`: the nightly DAG's task: recount the registry, list unregistered
  types, measure realtime; one alert mail when there is something to report (an unregistered
  type, a realtime warning or critical level). It fails only when the check itself crashes.
- :class:`RealtimeQuotaSensor`: phase 3, after the publication is enabled and before the
  read-source switch: a critical level fails the task with a message naming the slot or quota,
  the limit and what to do; "not measurable" passes, saying why.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException

from .runtime import dsn_from_context, params_of

log = logging.getLogger(__name__)


def run_nightly_watch(context: dict[str, Any]) -> dict[str, Any]:
    from activity_migration import nightly_watch
    from activity_migration.config import load_config

    from .alerts import send_alert
    from .validation_tasks import mail_or_log

    environment = params_of(context).get("environment", "production")
    result = nightly_watch.run(dsn_from_context(context), load_config())
    for u in result["unregistered"]:
        log.warning(
            "unregistered event type %s: %s events (first %s, last %s)",
            u["event_type"],
            u["event_count"],
            u["first_seen"],
            u["last_seen"],
        )
    for f in result["realtime"]["findings"]:
        log.info("realtime %s %s %s: %s", f["level"], f["check"], f["subject"], f["message"])
    if nightly_watch.needs_mail(result):
        dag_run = getattr(context.get("dag_run"), "run_id", None)
        subject, body = nightly_watch.render_mail(result, environment, dag_run)
        result["mail"] = mail_or_log(lambda: send_alert(subject, body, context), "the nightly watch")
        if result["mail"].startswith("alert mail NOT sent"):
            log.error("nightly watch findings not mailed: %s", subject)
    return result


class RealtimeQuotaSensor(BaseSensorOperator):
    """Pass unless the realtime load is critical (activity_migration.realtime_watch.sensor_verdict)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", timedelta(seconds=30))
        kwargs.setdefault("timeout", 600)
        kwargs.setdefault("retries", 0)  # a critical level is a finding, not a glitch
        super().__init__(**kwargs)

    def poke(self, context: Any) -> bool:
        from activity_migration.config import load_config
        from activity_migration.realtime_watch import sensor_verdict

        passed, message, report = sensor_verdict(dsn_from_context(context), load_config())
        self.log.info("%s", message)
        if not passed:
            raise AirflowFailException(message)
        return True
