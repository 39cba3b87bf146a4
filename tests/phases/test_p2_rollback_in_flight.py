"""Phase-2 rollback with a writer caught inside a rewritten trigger body: its legacy row is not lost.

A legacy trigger function that looks something up before it logs (here: the project's name)
takes a lock between the moment its own body is fixed and the moment it calls
publish_activity. A session processes committed catalog changes at such a lock, so when the
rollback swapped the legacy functions and publish_activity in ONE transaction, the trigger
went on with its rewritten body (``PERFORM publish_activity``) and then called the phase-1,
events-only publish_activity: an event with no legacy row, the activity_logs row lost. The
rollback now restores the legacy functions, waits for every transaction open at that commit,
and only then restores publish_activity.
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from activity_migration.config import load_config
from activity_migration.phases import p1_infrastructure as p1
from activity_migration.phases import p2_dual_write as p2
from activity_migration.phases._common import wait_for_older_transactions

CFG = load_config()
SLEEP_S = 1.5

LOOKUP_BEFORE_LOG = """
CREATE TABLE public.project_notes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid,
    customer_id uuid
);
-- The common legacy shape: read a related row, then log. The sleep (0 unless the session sets
-- probe.sleep) holds the writer inside the trigger so the rollback can commit meanwhile.
CREATE FUNCTION public.log_project_note_activity() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $f$
DECLARE
    v_project text;
BEGIN
    PERFORM pg_sleep(coalesce(nullif(current_setting('probe.sleep', true), '')::float8, 0));
    SELECT p.name INTO v_project FROM public.projects p WHERE p.id = NEW.project_id;
    INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description,
        metadata)
    VALUES (auth.uid(), NEW.customer_id, 'created', 'project', NEW.id::text,
            'Note on ' || coalesce(v_project, 'no project'), '{}'::jsonb);
    RETURN NULL;
END
$f$;
CREATE TRIGGER project_notes_activity_insert AFTER INSERT ON public.project_notes
    FOR EACH ROW EXECUTE FUNCTION public.log_project_note_activity();
"""


def _wait_for_sleeper(dsn: str, timeout: float = 10.0) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                "AND datname = current_database()"
            ).fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the writer never reached its trigger")


def test_rollback_keeps_the_legacy_row_of_a_writer_inside_a_rewritten_trigger(demo_db):
    p1.apply(demo_db, CFG)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute(LOOKUP_BEFORE_LOG)
    p2.apply(demo_db, CFG)
    with psycopg.connect(demo_db) as conn:
        body = conn.execute(
            "SELECT prosrc FROM pg_proc WHERE oid = 'public.log_project_note_activity'::regproc"
        ).fetchone()[0]
    assert "publish_activity" in body, "phase 2 rewrote the lookup-then-log function"

    result: dict = {}

    def writer() -> None:
        try:
            with psycopg.connect(demo_db) as w:
                w.execute("SELECT set_config('probe.sleep', %s, true)", (str(SLEEP_S),))
                result["id"] = w.execute(
                    "INSERT INTO public.project_notes (project_id) SELECT id FROM public.projects "
                    "LIMIT 1 RETURNING id::text"
                ).fetchone()[0]
                w.commit()
        except BaseException as exc:  # surfaced below
            result["error"] = exc

    thread = threading.Thread(target=writer)
    thread.start()
    _wait_for_sleeper(demo_db)
    started = time.monotonic()
    p2.rollback(demo_db, CFG)  # commits while the writer is inside the rewritten body
    waited = time.monotonic() - started
    thread.join(timeout=30)
    assert "error" not in result, result.get("error")

    with psycopg.connect(demo_db) as conn:
        legacy = conn.execute(
            "SELECT id FROM public.activity_logs WHERE entity_id = %s", (result["id"],)
        ).fetchall()
        events = conn.execute(
            "SELECT source, legacy_activity_log_id FROM public.events WHERE entity_id = %s", (result["id"],)
        ).fetchall()
        publish = conn.execute(
            "SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure(%s)", (p2.publish_identity(CFG),)
        ).fetchone()[0]
    assert len(legacy) == 1, f"the write's activity_logs row was lost (events: {events})"
    assert events == [("trigger", legacy[0][0])], (
        "its event is linked to it (dual write until the writer ended)"
    )
    assert waited >= 0.5, "the rollback waited for the writer before switching publish_activity back"
    assert "dual write" not in publish, "publish_activity is back in its phase-1 form"


def test_drain_sees_other_roles_transactions_without_stats_privileges(demo_db):
    """pg_stat_activity hides other roles' xact_start from a plain role; the drain must still wait."""
    role = f"amt_drain_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(demo_db, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        plain_dsn = psycopg.conninfo.make_conninfo(demo_db, user=role)
        with psycopg.connect(demo_db) as other:
            other.execute("SELECT 1")  # a transaction of another role, open
            assert wait_for_older_transactions(plain_dsn, 0.5) is False
            other.commit()
        assert wait_for_older_transactions(plain_dsn, 5) is True
    finally:
        with psycopg.connect(demo_db, autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])


def test_switch_installs_dual_write_publish_then_waits_before_rewriting_triggers(demo_db):
    """The same rule forwards: no session may run a rewritten trigger body while it can still
    call the events-only publish_activity. A transaction open when publish_activity switched
    holds back the rewrite of the triggers until it ends."""
    from activity_migration.ledger import RunContext

    ctx = RunContext(environment="staging", mode="demo", dag_run_id="pytest-p2-switch-order")
    p1.apply(demo_db, CFG)
    p2.backup(demo_db, CFG, ctx)
    trigger_fn = "public.log_project_activity()"
    done: dict = {}
    with psycopg.connect(demo_db) as old_tx:
        old_tx.execute("SELECT 1")  # open since before the switch
        thread = threading.Thread(target=lambda: done.setdefault("switch", p2.switch(demo_db, CFG, ctx)))
        thread.start()
        time.sleep(1.5)
        with psycopg.connect(demo_db, autocommit=True) as look:
            publish = look.execute(
                "SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure(%s)", (p2.publish_identity(CFG),)
            ).fetchone()[0]
            rewritten = look.execute(
                "SELECT prosrc LIKE '%%publish_activity%%' FROM pg_proc WHERE oid = %s::regprocedure",
                (trigger_fn,),
            ).fetchone()[0]
        assert "dual write" in publish, "publish_activity switched first"
        assert not rewritten and thread.is_alive(), (
            "triggers not rewritten while an older transaction is open"
        )
        old_tx.commit()
    thread.join(timeout=60)
    with psycopg.connect(demo_db) as conn:
        assert conn.execute(
            "SELECT prosrc LIKE '%%publish_activity%%' FROM pg_proc WHERE oid = %s::regprocedure",
            (trigger_fn,),
        ).fetchone()[0]
    assert done["switch"]["cutoff"] is not None
