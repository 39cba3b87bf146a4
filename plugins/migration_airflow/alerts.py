"""Alert e-mail through Airflow's SmtpNotifier (connection ``smtp_default``).

Recipients come from the Airflow Variable ``migration_alert_emails`` (comma separated).
Every alert names the environment it is about. Sending failures are raised, not
swallowed: an alert that could not be sent must fail the task that tried.
"""
from __future__ import annotations

from typing import Any

from activity_migration.connections import settings_variables

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
        raise ValueError(f"no alert recipients: set the Airflow Variable {ALERT_VARIABLE} (comma-separated addresses)")
    return recipients


def send_alert(subject: str, html_content: str, context: dict[str, Any] | None = None,
               smtp_conn_id: str = "smtp_default") -> list[str]:
    """Send one alert mail; returns the recipients."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    environment = ((context or {}).get("params") or {}).get("environment")
    if environment and f"[{environment}]" not in subject:
        subject = f"[{environment}] {subject}"
    to = alert_recipients()
    notifier = SmtpNotifier(to=to, subject=subject, html_content=html_content, smtp_conn_id=smtp_conn_id)
    notifier.notify(dict(context or {}))
    return to
