"""The approval decision on the DAG run itself: its note reads "Rejected by bob at 2026-12-08 10:15 UTC".

Why a note, set by a listener in the scheduler (docs/approvals.md, "Seeing the decision"):
Airflow 3.3 lets a task set no note on its own run (the task SDK and the execution API have no
such call, only a note for a run they trigger), and the REST API would need credentials in every
worker. A DAG-run listener runs in the scheduler, which holds a metadata-DB session: when a
migration run finishes, ``on_dag_run_success`` / ``on_dag_run_failed`` read the run's answered
approvals (HITL details) and set the note unless a person already wrote one. The Grid and the
run list show notes at once; a Reject still ends the run *successful* (a decision, not an
error), so the note is what tells the two apart at a glance.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

NOTE_LIMIT = 1000  # dag_run_note.content is String(1000)


def _who(user: Any) -> str:
    if isinstance(user, dict):
        return str(user.get("name") or user.get("id") or "unknown")
    return str(user or "unknown")


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.timezone.utc) if value.tzinfo else value
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value or "?")


def decision_note(answers: list[dict[str, Any]]) -> str | None:
    """One line per answered approval: ``Rejected by bob at … (switch_approval)``; None when none."""
    lines = []
    for a in sorted(answers, key=lambda a: str(a.get("responded_at") or "")):
        chosen = (a.get("chosen_options") or ["?"])[0]
        verb = {"Approve": "Approved", "Reject": "Rejected"}.get(chosen, f"Answered {chosen!r}")
        lines.append(
            f"{verb} by {_who(a.get('responded_by'))} at {_when(a.get('responded_at'))} ({a['task_id']})"
        )
    if not lines:
        return None
    rejected = any(line.startswith("Rejected") for line in lines)
    text = ("Stopped by decision: " if rejected else "") + "; ".join(lines)
    return text[:NOTE_LIMIT]


def _answers(session: Any, dag_run: Any) -> list[dict[str, Any]]:
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    rows = session.execute(
        select(
            TaskInstance.task_id, HITLDetail.chosen_options, HITLDetail.responded_by, HITLDetail.responded_at
        )
        .join(TaskInstance, HITLDetail.ti_id == TaskInstance.id)
        .where(
            TaskInstance.dag_id == dag_run.dag_id,
            TaskInstance.run_id == dag_run.run_id,
            HITLDetail.responded_at.is_not(None),
        )
    ).all()
    return [dict(r._mapping) for r in rows]


def note_decision(dag_run: Any) -> str | None:
    """Set the run's note from its answered approvals (a person's own note is kept); returns it."""
    from sqlalchemy import inspect

    if not str(getattr(dag_run, "dag_id", "")).startswith("migration_"):
        return None
    # Only a run bound to the scheduler's session can take a note; `airflow dags test` hands over a
    # detached run, whose note cannot even be read (lazy load): nothing to do there.
    state = inspect(dag_run, raiseerr=False)
    session = state.session if state is not None else None
    if session is None or getattr(dag_run, "note", None):
        return None
    note = decision_note(_answers(session, dag_run))
    if note:
        dag_run.note = note  # flushed with the scheduler's own commit of the run's new state
    return note


class DecisionNoteListener:
    """Listener object registered by ``plugins/migration_decision_plugin.py``."""

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        self._safe(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        self._safe(dag_run)

    @staticmethod
    def _safe(dag_run: Any) -> None:
        try:
            note = note_decision(dag_run)
            if note:
                log.info("run %s: note set to %r", getattr(dag_run, "run_id", "?"), note)
        except Exception:  # never disturb the scheduler over a note
            log.exception("could not set the decision note of run %s", getattr(dag_run, "run_id", "?"))
