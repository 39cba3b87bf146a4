"""Defaults every migration DAG uses, so they behave alike in the UI and under failure."""

from __future__ import annotations

from datetime import timedelta

# Pool (from airflow_settings.yaml) that bounds concurrent work on the application database.
APP_DB_POOL = "activity_db"

TAGS_BASE = ["activity-migration"]

# Every task is idempotent (invariant 2, docs/architecture.md), so a retry is always safe; a short delay lets
# a
# transient lock or connection problem pass.
DEFAULT_ARGS = {
    "owner": "platform",
    "retries": 1,
    "retry_delay": timedelta(seconds=10),
}


def tags(*extra: str) -> list[str]:
    return TAGS_BASE + list(extra)
