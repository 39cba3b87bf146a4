"""The run's note after an approval: who decided what, and when (migration_airflow.decision_note)."""

from __future__ import annotations

import datetime as dt

from migration_airflow.decision_note import DecisionNoteListener, decision_note, note_decision

AT = dt.datetime(2026, 12, 8, 10, 15, 30, tzinfo=dt.timezone.utc)


def test_a_rejection_reads_as_stopped_by_decision_with_the_approver_and_time():
    note = decision_note(
        [
            {
                "task_id": "tier_drop_approval",
                "chosen_options": ["Reject"],
                "responded_by": {"id": "bob", "name": "Bob B."},
                "responded_at": AT,
            }
        ]
    )
    assert note == "Stopped by decision: Rejected by Bob B. at 2026-12-08 10:15 UTC (tier_drop_approval)"


def test_an_approval_and_no_answer():
    approved = decision_note(
        [
            {
                "task_id": "switch_approval",
                "chosen_options": ["Approve"],
                "responded_by": {"id": "alice"},
                "responded_at": AT,
            }
        ]
    )
    assert approved == "Approved by alice at 2026-12-08 10:15 UTC (switch_approval)"
    assert decision_note([]) is None


def test_other_dags_and_runs_with_a_note_are_left_alone():
    class Run:
        dag_id = "some_other_dag"
        run_id = "r"
        note = None

    assert note_decision(Run()) is None
    Run.dag_id, Run.note = "migration_p2_dual_write", "a person's note"
    assert note_decision(Run()) is None
    DecisionNoteListener().on_dag_run_success(dag_run=Run(), msg="success")  # never raises
