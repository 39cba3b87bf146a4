"""The phase-1 rollback under a writer in flight: what a writer commits while the rollback waits
for its lock is archived, not lost; the archive exists even when events is empty."""

from __future__ import annotations

import threading
import time

import psycopg

from _forward import CFG, CTX, p1
from activity_migration.phases import p1_infrastructure

PUBLISH = (
    "SELECT public.publish_activity(p_event_type => 'project.updated', p_entity_type => 'project', "
    "p_entity_id => %s, p_actor_id => NULL)"
)


def test_a_writer_committing_while_the_rollback_waits_is_archived(demo_db):
    p1(demo_db)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        for i in range(3):
            conn.execute(PUBLISH, (f"committed-{i}",))
    writer = psycopg.connect(demo_db)
    writer.execute(PUBLISH, ("in-flight",))  # holds ROW EXCLUSIVE on events, not committed yet
    result: dict = {}
    rollback = threading.Thread(target=lambda: result.update(p1_infrastructure.rollback(demo_db, CFG, CTX)))
    rollback.start()
    time.sleep(1.0)  # the rollback is waiting for its lock now
    assert rollback.is_alive(), "the rollback must wait for the writer, not run past it"
    writer.commit()
    writer.close()
    rollback.join(timeout=60)
    assert result["archived_events"] == 4
    with psycopg.connect(demo_db) as conn:
        ids = {r[0] for r in conn.execute("SELECT entity_id FROM activity_migration.events_rollback_archive")}
        assert conn.execute("SELECT to_regclass('public.events')").fetchone()[0] is None
    assert ids == {"committed-0", "committed-1", "committed-2", "in-flight"}


def test_the_archive_is_created_even_with_no_event(demo_db):
    p1(demo_db)
    out = p1_infrastructure.rollback(demo_db, CFG, CTX)
    assert out["archived_events"] == 0 and out["archive"] == "activity_migration.events_rollback_archive"
    with psycopg.connect(demo_db) as conn:
        assert (
            conn.execute("SELECT count(*) FROM activity_migration.events_rollback_archive").fetchone()[0] == 0
        )
