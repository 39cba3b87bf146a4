"""Four eyes on the approval gate (LedgerApprovalOperator) with a real ledger database.

Drives the operator's methods directly, as test_approval_gate.py does: ``execute`` with the
HITL write captured (who the request is assigned to), ``execute_complete`` with the answer the
API would deliver, ``resume_after_lookup`` for the retry path. Variables come from
``AIRFLOW_VAR_*`` (Airflow's own environment lookup).
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from activity_migration import ledger
from activity_migration.db import connection, fetch_all
from activity_migration.errors import GateClosed
from dagrun import conn_uri
from migration_airflow.approval import LedgerApprovalOperator


@pytest.fixture
def gate_db(fresh_db, monkeypatch):
    """One database behind both environments' connections, with the state schema; no Variables."""
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB_STAGING", conn_uri(fresh_db))
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB", conn_uri(fresh_db))
    for name in ("MIGRATION_APPROVERS", "MIGRATION_ALLOW_SELF_APPROVAL_IN_STAGING"):
        monkeypatch.delenv(f"AIRFLOW_VAR_{name}", raising=False)
    with connection(fresh_db) as conn:
        ledger.ensure_state_schema(conn)
    return fresh_db


def _operator() -> LedgerApprovalOperator:
    return LedgerApprovalOperator(
        task_id="switch_approval", phase="p2_dual_write", step="switch", subject="Switch?", body="evidence"
    )


def _context(
    op, *, environment="production", triggered_by="alice", try_number=1, run_id="manual__4eyes", params=None
):
    ti = SimpleNamespace(
        id="01a209d9-f4c8-776f-aba7-51158ed77c75",
        try_number=try_number,
        task_id=op.task_id,
        map_index=-1,
        xcom_push=lambda *a, **k: None,
    )
    return {
        "params": {"environment": environment, "mode": "normal", **(params or {})},
        "dag_run": SimpleNamespace(run_id=run_id, triggering_user_name=triggered_by),
        "ti": ti,
        "task_instance": ti,
        "task": op,
    }


def _event(option: str, by: str, at: datetime) -> dict:
    return {
        "chosen_options": [option],
        "params_input": {},
        "responded_at": at,
        "responded_by_user": {"id": by, "name": by},
    }


def _rows(dsn: str) -> list[dict]:
    with connection(dsn) as conn:
        return fetch_all(
            conn,
            "SELECT status, actor, details FROM activity_migration.phase_ledger "
            "WHERE step = 'switch_approval' ORDER BY id",
        )


def _ask(op, context) -> list[dict]:
    """Run ``execute`` (or a callable) until it parks; return the HITL requests it wrote."""
    import airflow.providers.standard.operators.hitl as hitl
    from airflow.sdk.exceptions import TaskAwaitingInput

    calls: list[dict] = []
    original = hitl.upsert_hitl_detail
    hitl.upsert_hitl_detail = lambda **kw: calls.append(kw)
    try:
        with pytest.raises(TaskAwaitingInput):
            context() if callable(context) else op.execute(context)
    finally:
        hitl.upsert_hitl_detail = original
    return calls


def test_production_request_is_assigned_to_the_approvers_minus_the_triggering_user(gate_db, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_VAR_MIGRATION_APPROVERS", '["alice", {"id": "bob", "name": "Bob B."}, "carol"]'
    )
    op = _operator()
    calls = _ask(op, _context(op, triggered_by="alice"))
    assert calls[0]["assigned_users"] == [{"id": "bob", "name": "Bob B."}, {"id": "carol", "name": "carol"}]
    assert "Bob B., carol" in calls[0]["body"] and "not `alice`, who triggered this run" in calls[0]["body"]
    assert calls[0]["body"].startswith("evidence")


def test_comma_separated_approvers_and_unknown_triggering_user(gate_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_APPROVERS", "alice, bob")
    op = _operator()
    calls = _ask(op, _context(op, triggered_by="dag_test"))  # `airflow dags test` names nobody
    assert [u["id"] for u in calls[0]["assigned_users"]] == ["alice", "bob"]
    assert "triggering user is unknown" in calls[0]["body"]


def test_staging_request_is_not_restricted(gate_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_APPROVERS", '["bob"]')
    op = _operator()
    assert _ask(op, _context(op, environment="staging"))[0]["assigned_users"] is None


def test_production_without_approvers_fails_saying_what_to_set(gate_db, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    op = _operator()
    with pytest.raises(AirflowFailException, match="Set the Airflow Variable migration_approvers"):
        op.execute(_context(op))
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_APPROVERS", '["alice"]')
    with pytest.raises(AirflowFailException, match="lists only 'alice', who triggered this production run"):
        op.execute(_context(op, triggered_by="alice"))
    assert _rows(gate_db) == []


def test_self_approval_in_production_is_refused_recorded_and_never_reused(gate_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_APPROVERS", '["alice", "bob"]')
    op = _operator()
    at = datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=timezone.utc)
    with pytest.raises(GateClosed, match="self-approval refused: alice triggered this production run"):
        op.execute_complete(_context(op, triggered_by="alice"), _event("Approve", "alice", at))
    rows = _rows(gate_db)
    assert [(r["status"], r["actor"]) for r in rows] == [("failed", "alice")]
    d = rows[0]["details"]
    assert d["refused"] == "self-approval refused" and d["triggering_user"] == "alice"
    assert d["responder"] == {"id": "alice", "name": "alice"} and d["chosen"] == "Approve"
    assert datetime.fromisoformat(d["responded_at"]) == at

    # The retry finds the refused answer in the task's HITL detail: it must ask again, not act on it.
    retry = _context(op, triggered_by="alice", try_number=2)
    earlier = {"answer": {**_event("Approve", "alice", at), "responded_at": at.isoformat()}}
    calls = _ask(op, lambda: op.resume_after_lookup(retry, earlier))
    assert calls and [u["id"] for u in calls[0]["assigned_users"]] == ["bob"]
    assert len(_rows(gate_db)) == 1  # nothing recorded for the refused answer a second time

    # bob approves: that stands
    later = datetime(2026, 12, 7, 10, 5, tzinfo=timezone.utc)
    result = op.execute_complete(_context(op, triggered_by="alice"), _event("Approve", "bob", later))
    assert result["chosen_options"] == ["Approve"]
    last = _rows(gate_db)[-1]
    assert (last["status"], last["actor"], last["details"]["triggering_user"]) == (
        "succeeded",
        "bob",
        "alice",
    )
    assert last["details"]["four_eyes"]["allowed"] is True


def test_an_approval_by_someone_not_listed_is_refused_in_production(gate_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_APPROVERS", '["bob"]')
    op = _operator()
    at = datetime(2026, 12, 7, 11, 0, tzinfo=timezone.utc)
    with pytest.raises(GateClosed, match="not listed in the Airflow Variable migration_approvers"):
        op.execute_complete(_context(op, triggered_by="alice"), _event("Approve", "mallory", at))
    assert [(r["status"], r["details"]["refused"]) for r in _rows(gate_db)] == [
        ("failed", "responder is not an approver")
    ]


def test_unknown_triggering_user_is_said_in_the_ledger(gate_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_APPROVERS", '["bob"]')
    op = _operator()
    op.execute_complete(
        _context(op, triggered_by=None),
        _event("Approve", "bob", datetime(2026, 12, 7, 12, tzinfo=timezone.utc)),
    )
    row = _rows(gate_db)[0]
    assert row["status"] == "succeeded" and row["details"]["triggering_user"] is None
    assert "triggering user unknown" in row["details"]["four_eyes"]["note"]


def test_staging_self_approval_allowed_unless_the_variable_says_false(gate_db, monkeypatch):
    op = _operator()
    at = datetime(2026, 12, 7, 13, tzinfo=timezone.utc)
    op.execute_complete(
        _context(op, environment="staging", triggered_by="alice"), _event("Approve", "alice", at)
    )
    row = _rows(gate_db)[0]
    assert row["status"] == "succeeded" and row["details"]["four_eyes"]["self_approval"] is True

    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_ALLOW_SELF_APPROVAL_IN_STAGING", "false")
    with pytest.raises(GateClosed, match="migration_allow_self_approval_in_staging is false"):
        op.execute_complete(
            _context(op, environment="staging", triggered_by="alice", run_id="manual__2"),
            _event("Approve", "alice", datetime(2026, 12, 7, 14, tzinfo=timezone.utc)),
        )
    assert _rows(gate_db)[-1]["status"] == "failed"


def test_production_clamps_reach_the_approval_body_and_row(gate_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_APPROVERS", '["bob"]')
    op = _operator()
    ctx = _context(op, params={"min_event_ratio": 0.5}, run_id="manual__clamped")
    body = _ask(op, ctx)[0]["body"]
    assert "`min_event_ratio` asked 0.5 (Param), used 0.9 (production minimum)" in body
    op.execute_complete(ctx, _event("Approve", "bob", datetime(2026, 12, 7, 15, tzinfo=timezone.utc)))
    clamps = _rows(gate_db)[0]["details"]["param_clamps"]
    assert [(c["param"], c["asked"], c["effective"]) for c in clamps] == [("min_event_ratio", 0.5, 0.9)]
