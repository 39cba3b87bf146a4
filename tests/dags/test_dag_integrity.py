"""DAG integrity: every file imports, has tags and retries, and touches no connection,
Variable or database while being parsed. Parametrized by file so a failure names it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
EXPECTED_DAG_IDS = {
    "migration_p1_infrastructure",
    "migration_p2_dual_write",
    "migration_p3_read_path",
    "migration_p4_backfill",
    "migration_p5_trigger_removal",
    "migration_p6_cleanup",
    "migration_rollback",
    "migration_consistency_nightly",
}


class ParseTimeAccess(AssertionError):
    pass


@pytest.fixture
def forbid_parse_time_access(monkeypatch):
    """Any database, connection or Variable access during parsing raises."""
    import psycopg
    from airflow.sdk import Connection, Variable

    def refuse(what):
        def _raise(*args, **kwargs):
            raise ParseTimeAccess(f"{what} accessed at parse time")

        return _raise

    monkeypatch.setattr(psycopg, "connect", refuse("psycopg.connect"))
    monkeypatch.setattr(Connection, "get", classmethod(refuse("Connection.get")))
    monkeypatch.setattr(Variable, "get", staticmethod(refuse("Variable.get")))


def _bag(path: Path):
    from airflow.dag_processing.dagbag import DagBag

    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    return DagBag(dag_folder=str(path))


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_imports_cleanly(dag_file, forbid_parse_time_access):
    bag = _bag(dag_file)
    assert not bag.import_errors, f"{dag_file.name}: {bag.import_errors}"
    assert bag.dag_ids, f"{dag_file.name} defines no DAG"
    for dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        assert dag_id == dag_file.stem, f"{dag_file.name}: DAG id {dag_id} should match the file name"
        assert "activity-migration" in dag.tags, f"{dag_id} lacks the activity-migration tag"
        assert dag.doc_md and len(dag.doc_md) > 80, (
            f"{dag_id} needs doc_md saying what it does and how to roll back"
        )
        # The DAG list shows the description under the id: one line saying what the DAG does.
        assert dag.description and 20 < len(dag.description) <= 200, f"{dag_id} needs a one-line description"
        # Phase DAGs start paused (nothing runs by accident); the nightly check starts unpaused,
        # or its schedule never fires until someone finds it.
        scheduled = dag.schedule is not None
        assert dag.is_paused_upon_creation is (False if scheduled else None), (
            f"{dag_id}: paused at creation should be {not scheduled}"
        )
        # Retries by default (every task is idempotent); a gate may opt out explicitly (a failed
        # validation must not mail twice), which shows as retries=0 on that task alone.
        assert (dag.default_args or {}).get("retries", 0) >= 1, f"{dag_id} has no default retries"
        no_retry = [t.task_id for t in dag.tasks if not t.retries]
        assert len(no_retry) <= max(2, len(dag.tasks) // 3), (
            f"{dag_id}: too many tasks without retries: {no_retry}"
        )
        assert "environment" in dag.params, f"{dag_id} lacks the environment Param"


def test_all_contract_dags_present():
    bag = _bag(DAGS_DIR)
    missing = EXPECTED_DAG_IDS - set(bag.dag_ids)
    assert not bag.import_errors, bag.import_errors
    assert not missing, f"DAG ids of ARCHITECTURE.md missing: {sorted(missing)}"
