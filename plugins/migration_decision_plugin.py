"""Airflow plugin: a migration run's note says who approved or rejected it, and when.

The listener lives in :mod:`migration_airflow.decision_note` (why a listener: read there).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from migration_airflow.decision_note import DecisionNoteListener


class MigrationDecisionPlugin(AirflowPlugin):
    name = "migration_decision_note"
    listeners = [DecisionNoteListener()]
