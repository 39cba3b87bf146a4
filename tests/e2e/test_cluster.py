"""End to end on a cluster: CeleryExecutor, Postgres metadata, Redis, two workers (`make airflow-cluster`).

The launcher (scripts/airflow_cluster.py) starts everything on loopback with a metadata database
of this test's own; the staging connection points at a freshly seeded demo database (more history
than the shared template, so chunks take long enough to kill a worker in one). The demo workload
writes the whole time. Phases 1, 2 and 4 run as a person would drive them (the approval answered
over REST a few seconds after it appears); then the backfill is rolled back and run again, and
one worker is killed with SIGKILL while it copies a chunk: the chunk's lease hands it to the other.

    CLUSTER_TEST_ROWS=100000 (history rows seeded)
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time

import psutil
import psycopg
import pytest
from airflow_cluster import AirflowCluster
from e2e_helpers import ROOT

from activity_migration.config import load_config
from activity_migration.db import connection, fetch_all, fetch_one
from activity_migration.ledger import RunContext
from testdb import create_database, drop_database

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

P1, P2, P4 = "migration_p1_infrastructure", "migration_p2_dual_write", "migration_p4_backfill"
CONF = {"environment": "staging", "mode": "normal"}
HUMAN_DELAY_S = 3
ROWS = int(os.environ.get("CLUSTER_TEST_ROWS", "100000"))
WORKERS = ("worker1", "worker2")
# Four copy workers over 2 workers x 2 slots: each Celery worker takes at most two at once
# (prefetch 1 per slot), so both get some.
P4_CONF = {**CONF, "max_parallel_chunks": 4, "lease_seconds": 5}


@pytest.fixture(scope="module")
def app_db(pg_admin_dsn):
    from activity_migration.demo.seed import seed

    name, dsn = create_database(pg_admin_dsn, prefix="amt_cluster_app")
    try:
        seed(dsn, rows=ROWS)
        yield dsn
    finally:
        drop_database(pg_admin_dsn, name)


@pytest.fixture(scope="module")
def cluster(pg_admin_dsn, app_db):
    meta_name, meta_dsn = create_database(pg_admin_dsn, prefix="amt_cluster_meta")
    # A fixed home under .local (not pytest's rotating tmp): the components' logs stay for a post-mortem.
    home = ROOT / ".local" / "e2e-airflow-cluster"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    c = AirflowCluster(
        home,
        meta_dsn,
        app_db,
        extra_env={
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # a worker that died is noticed after 20 s (default 300) and its task retried
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        },
    )
    try:
        started = time.monotonic()
        c.start()
        c.startup_s = time.monotonic() - started
        for dag_id in (P1, P2, P4):
            c.wait_for_dag(dag_id)
        yield c
    finally:
        c.stop()
        drop_database(pg_admin_dsn, meta_name)
    assert not c.leftovers, f"processes left running after the cluster stopped: {c.leftovers}"


class Workload:
    """The demo application's writes in a thread for as long as the test needs."""

    def __init__(self, dsn: str) -> None:
        from activity_migration.demo.workload import run_workload

        self.stop = threading.Event()
        self.result = {}
        self.thread = threading.Thread(
            target=lambda: self.result.update(
                r=run_workload(dsn, seconds=3600, rate=10, connections=2, stop_event=self.stop)
            ),
            daemon=True,
        )

    def __enter__(self) -> Workload:  # noqa: PYI034
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(60)

    @property
    def report(self):
        return self.result["r"]


def _independent_counts(dsn: str) -> dict[str, int]:
    """Invariant 1 counted without the project's code: every legacy row is in events exactly once
    (by legacy_activity_log_id) or in the quarantine."""
    cfg = load_config()
    state = cfg.state_schema
    with connection(dsn) as conn:
        return fetch_one(
            conn,
            f"""
            SELECT (SELECT count(*) FROM public.activity_logs) AS legacy,
                   (SELECT count(*) FROM public.activity_logs a
                     WHERE NOT EXISTS (SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = a.id)
                       AND NOT EXISTS (SELECT 1 FROM "{state}".quarantine q WHERE q.legacy_id = a.id::text))
                           AS missing,
                   (SELECT count(*) FROM (SELECT legacy_activity_log_id FROM public.events
                                           WHERE legacy_activity_log_id IS NOT NULL
                                           GROUP BY 1 HAVING count(*) > 1) d) AS duplicated,
                   (SELECT count(*) FROM public.activity_logs a
                     WHERE EXISTS (SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = a.id)
                       AND EXISTS (SELECT 1 FROM "{state}".quarantine q WHERE q.legacy_id = a.id::text)) AS
                           in_both,
                   (SELECT count(*) FROM public.events WHERE source = 'backfill') AS backfilled""",
        )


def _run(cluster: AirflowCluster, dag_id: str, conf: dict, timeout: float = 600) -> str:
    run_id = cluster.trigger(dag_id, conf)
    state = cluster.wait_run(dag_id, run_id, timeout=timeout)
    assert state == "success", (
        f"{dag_id} ended {state}: {cluster.task_states(dag_id, run_id)}\n{cluster.log_tail()}"
    )
    return run_id


def _copy_hosts(cluster: AirflowCluster, run_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ti in cluster.task_instances(P4, run_id):
        if ti["task_id"] == "copy_worker" and ti["state"] == "success":
            counts[ti["hostname"]] = counts.get(ti["hostname"], 0) + 1
    return counts


def test_phases_1_2_4_on_two_celery_workers_then_a_worker_dies(cluster, app_db):
    cfg = load_config()
    timings: dict[str, float] = {"cluster_start_s": round(cluster.startup_s, 1)}
    with Workload(app_db) as workload:
        # phase 1, then phase 2 approved over REST as a person would (a few seconds after it appears)
        t = time.monotonic()
        _run(cluster, P1, CONF)
        timings["p1_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        run_id = cluster.trigger(P2, CONF)
        hitl = cluster.wait_for_approval(P2, run_id)
        assert hitl["task_instance"]["task_id"] == "switch_approval"
        time.sleep(HUMAN_DELAY_S)
        cluster.answer(hitl, "Approve")
        state = cluster.wait_run(P2, run_id)
        assert state == "success", (
            f"phase 2 ended {state}: {cluster.task_states(P2, run_id)}\n{cluster.log_tail()}"
        )
        timings["p2_s"] = round(time.monotonic() - t, 1)

        # phase 4: the mapped copy workers spread over both Celery workers
        t = time.monotonic()
        run_id = _run(cluster, P4, P4_CONF)
        timings["p4_s"] = round(time.monotonic() - t, 1)
        hosts = _copy_hosts(cluster, run_id)
        assert set(hosts) == set(WORKERS), f"copy tasks per worker host: {hosts}"
        assert cluster.task_states(P4, run_id)["check_zero_loss"] == "success"

        # the backfill rolled back, then run again; worker1 dies while it holds a chunk
        from activity_migration.phases import p4_backfill

        removed = p4_backfill.rollback(app_db, cfg, RunContext(environment="staging", actor="test"))
        assert removed["events"] > 0, removed
        kill_conf = {**P4_CONF, "initial_chunk_rows": 5000, "chunk_target_seconds": 2}
        t = time.monotonic()
        run_id2 = cluster.trigger(P4, kill_conf)
        victim = _kill_worker_in_a_chunk(cluster, app_db, cfg.state_schema, "worker1", timeout=300)
        state = cluster.wait_run(P4, run_id2, timeout=600)
        timings["p4_with_kill_s"] = round(time.monotonic() - t, 1)
        tis = cluster.task_instances(P4, run_id2)
        assert state == "success", (
            f"backfill after the kill ended {state}: "
            f"{[(ti['task_id'], ti['map_index'], ti['state'], ti['hostname']) for ti in tis]}"
            f"\n{cluster.log_tail()}"
        )
    assert workload.report.transactions_failed == 0, workload.report
    assert workload.report.transactions_ok > 0

    # the chunk the dead worker held was taken over after its lease and finished by another
    with connection(app_db) as conn:
        chunk = fetch_one(
            conn,
            f'SELECT status, attempts, claimed_by FROM "{cfg.state_schema}".backfill_chunks '
            "WHERE chunk_id = %s",
            (victim["chunk_id"],),
        )
        chunk_states = {
            r["status"]: r["n"]
            for r in fetch_all(
                conn,
                f'SELECT status, count(*) AS n FROM "{cfg.state_schema}".backfill_chunks GROUP BY status',
            )
        }
    if victim["still_running_after_kill"]:
        assert chunk["status"] == "done" and chunk["attempts"] >= 2, (victim, chunk)
    assert set(chunk_states) == {"done"}, chunk_states
    # the project's own check (the DAG's check_zero_loss passed; once more here) and an independent count
    own = p4_backfill.check_zero_loss(app_db, cfg)
    assert own["missing"] == own["duplicated"] == own["in_both"] == 0, own
    counts = _independent_counts(app_db)
    assert counts["missing"] == 0 and counts["duplicated"] == 0 and counts["in_both"] == 0, counts
    assert counts["backfilled"] > 0, counts
    retried = [ti for ti in tis if ti["task_id"] == "copy_worker" and ti["try_number"] > 1]
    print(
        f"\ncluster test: {timings}; copy tasks per host, first run {hosts}, run with the kill "
        f"{_copy_hosts(cluster, run_id2)} ({len(retried)} retried); killed {victim}; chunk after: {chunk}; "
        f"counts {counts}; workload ok {workload.report.transactions_ok}, failed "
        f"{workload.report.transactions_failed}"
    )


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


_CLAIMANT = re.compile(r"@[^:]*:(\d+)$")


def _kill_worker_in_a_chunk(
    cluster: AirflowCluster, dsn: str, state_schema: str, worker: str, timeout: float
) -> dict:
    """Wait until a process under ``worker`` holds a running chunk, then SIGKILL the worker's whole tree."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            tree = cluster.worker_tree(worker)
            rows = conn.execute(
                f'SELECT chunk_id, claimed_by FROM "{state_schema}".backfill_chunks '
                "WHERE status = 'running'"
            ).fetchall()
            for chunk_id, claimed_by in rows:
                m = _CLAIMANT.search(claimed_by or "")
                if m and int(m.group(1)) in tree:
                    killed = cluster.kill_worker(worker)
                    time.sleep(0.5)
                    after = conn.execute(
                        f'SELECT status, claimed_by FROM "{state_schema}".backfill_chunks '
                        "WHERE chunk_id = %s",
                        (chunk_id,),
                    ).fetchone()
                    assert not [p for p in killed if _alive(p)], "the worker's processes survived SIGKILL"
                    return {
                        "chunk_id": chunk_id,
                        "claimed_by": claimed_by,
                        "processes_killed": len(killed),
                        "still_running_after_kill": after[0] == "running" and after[1] == claimed_by,
                    }
            time.sleep(0.05)
    raise AssertionError(f"no chunk was claimed by a process of {worker} within {timeout:.0f} s")
