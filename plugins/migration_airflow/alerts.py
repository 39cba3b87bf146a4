"""Alert e-mail through Airflow's SmtpNotifier (connection ``smtp_default``).

Recipients come from the Airflow Variable ``migration_alert_emails`` (comma separated).
Every alert names the environment it is about. Sending failures are raised, not
swallowed: an alert that could not be sent must fail the task that tried.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

from activity_migration.connections import env_var_name, settings_connections, settings_variables

if TYPE_CHECKING:
    from airflow.sdk import Context

ALERT_VARIABLE = "migration_alert_emails"


def alert_recipients() -> list[str]:
    value = None
    try:
        from airflow.sdk import Variable

        value = Variable.get(ALERT_VARIABLE, default=None)
    except Exception:  # outside a task (CLI, tests): the settings file
        value = None
    if not value:
        value = settings_variables().get(ALERT_VARIABLE, "")
    recipients = [r.strip() for r in str(value).replace(";", ",").split(",") if r.strip()]
    if not recipients:
        raise ValueError(
            f"no alert recipients: set the Airflow Variable {ALERT_VARIABLE} (comma-separated addresses)"
        )
    return recipients


def ensure_smtp_connection(conn_id: str) -> None:
    """Airflow's connection when it has one, else the airflow_settings.yaml entry.

    The application-database connections fall back to that file too (runtime.py): a plain
    ``airflow dags test`` on a laptop then mails the local sink instead of failing the alert
    with "SMTP connection is not found". Nothing changes where Airflow knows the connection.
    """
    try:
        from airflow.sdk import Connection

        Connection.get(conn_id)
        return
    except Exception:  # not in Airflow (or outside a task): the settings file, if it has one
        pass
    spec = settings_connections().get(conn_id)
    if spec is not None:
        os.environ.setdefault(env_var_name(conn_id), spec.uri())


def send_alert(
    subject: str, html_content: str, context: dict[str, Any] | None = None, smtp_conn_id: str = "smtp_default"
) -> list[str]:
    """Send one alert mail; returns the recipients."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    environment = ((context or {}).get("params") or {}).get("environment")
    if environment and f"[{environment}]" not in subject:
        subject = f"[{environment}] {subject}"
    to = alert_recipients()
    ensure_smtp_connection(smtp_conn_id)
    notifier = SmtpNotifier(to=to, subject=subject, html_content=html_content, smtp_conn_id=smtp_conn_id)
    # Airflow types notify's context as its Context TypedDict; send_alert takes any mapping (a task's
    # context, a partial one such as {"params": ...}, or none): the notifier only renders templates from it.
    notifier.notify(cast("Context", dict(context or {})))
    return to
