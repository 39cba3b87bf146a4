"""The approval gate's ledger records and its answer to the answer/park race (docs/platform-notes.md).

Runs the operator's resume methods directly with a real ledger database; the full Airflow
path (REST answer, awaiting_input, retries) is in tests/e2e/test_standalone_approvals.py.
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from activity_migration import ledger
from activity_migration.db import connection, fetch_all
from dagrun import conn_uri
from migration_airflow.approval import LedgerApprovalOperator


@pytest.fixture
def gate_db(fresh_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB_STAGING", conn_uri(fresh_db))
    with connection(fresh_db) as conn:
        ledger.ensure_state_schema(conn)
    return fresh_db


def _operator() -> LedgerApprovalOperator:
    return LedgerApprovalOperator(
        task_id="switch_approval", phase="p2_dual_write", step="switch", subject="Switch?", body="evidence"
    )


def _context(op, run_id="manual__race"):
    ti = SimpleNamespace(
        id="01a209d9-f4c8-776f-aba7-51158ed77c75",
        try_number=2,
        task_id=op.task_id,
        map_index=-1,
        xcom_push=lambda *a, **k: None,
    )
    return {
        "params": {"environment": "staging", "mode": "normal"},
        "dag_run": SimpleNamespace(run_id=run_id),
        "ti": ti,
        "task_instance": ti,
        "task": op,
    }


def _answer(option: str, at: datetime) -> dict:
    return {
        "answer": {
            "chosen_options": [option],
            "params_input": {},
            "responded_at": at.isoformat(),
            "responded_by_user": {"id": "alice", "name": "alice"},
        }
    }


def _approval_rows(dsn: str) -> list[dict]:
    with connection(dsn) as conn:
        return fetch_all(
            conn,
            "SELECT status, actor, details FROM activity_migration.phase_ledger "
            "WHERE step = 'switch_approval' ORDER BY id",
        )


def test_a_retry_acts_on_an_answer_no_try_acted_on(gate_db):
    op = _operator()
    at = datetime(2026, 11, 23, 19, 20, 34, 123456, tzinfo=timezone.utc)
    result = op.resume_after_lookup(_context(op), _answer("Approve", at))
    assert result["chosen_options"] == ["Approve"]
    rows = _approval_rows(gate_db)
    assert [(r["status"], r["actor"]) for r in rows] == [("succeeded", "alice")]
    assert datetime.fromisoformat(rows[0]["details"]["responded_at"]) == at


def test_an_answer_already_acted_on_is_asked_again(gate_db):
    from airflow.sdk.exceptions import TaskAwaitingInput

    op = _operator()
    at = datetime(2026, 11, 23, 19, 20, 34, tzinfo=timezone.utc)
    op.resume_after_lookup(_context(op), _answer("Approve", at))  # acted on (ledger row written)
    with pytest.raises(TaskAwaitingInput):  # a deliberate clear: ask the person again
        _ask_again(op, _answer("Approve", at))
    assert len(_approval_rows(gate_db)) == 1


def test_no_earlier_answer_asks(gate_db):
    from airflow.sdk.exceptions import TaskAwaitingInput

    op = _operator()
    with pytest.raises(TaskAwaitingInput):
        _ask_again(op, {"answer": None})
    assert _approval_rows(gate_db) == []


def test_reject_is_recorded_before_downstream_is_skipped(gate_db):
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG("gate_test", schedule=None):
        op = _operator()
        op >> EmptyOperator(task_id="switch")
    at = datetime(2026, 11, 23, 19, 21, tzinfo=timezone.utc)
    from airflow.sdk.exceptions import DownstreamTasksSkipped

    with pytest.raises(DownstreamTasksSkipped):  # the task SDK skips downstream by raising
        op.resume_after_lookup(_context(op), _answer("Reject", at))
    rows = _approval_rows(gate_db)
    assert [(r["status"], r["actor"], r["details"]["chosen"]) for r in rows] == [
        ("rejected", "alice", "Reject")
    ]


def _ask_again(op, event):
    """resume_after_lookup when it must ask: the HITL write goes to a fake supervisor."""
    import airflow.providers.standard.operators.hitl as hitl

    calls = []
    original = hitl.upsert_hitl_detail
    hitl.upsert_hitl_detail = lambda **kw: calls.append(kw)
    try:
        return op.resume_after_lookup(_context(op), event)
    finally:
        hitl.upsert_hitl_detail = original
        assert calls and calls[0]["subject"] == "Switch?"
