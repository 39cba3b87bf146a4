"""Phase 6 on a real Postgres with the seeded demo app: gates refuse, archive/restore keeps every row."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from _forward import CFG, CTX, p1, p2, p4, p5_all, record_validation
from activity_migration import ledger
from activity_migration.cli import main as cli
from activity_migration.errors import GateClosed
from activity_migration.phases import p3_read_path as p3
from activity_migration.phases import p6_cleanup as p6
from workload_helper import Background


def test_tiers_gate_refuses_until_every_tier_is_verified_and_no_logging_trigger_is_left(demo_db):
    p1(demo_db)
    with psycopg.connect(demo_db) as conn:
        with pytest.raises(GateClosed, match="tier 1 is not started.*64 logging triggers still exist"):
            p6.gate_tiers_done(conn, CFG)
    p2(demo_db)
    p5_all(demo_db, verified=False)
    with psycopg.connect(demo_db) as conn:
        with pytest.raises(GateClosed, match="tier 1 is dropped"):
            p6.gate_tiers_done(conn, CFG)
    p5_all(demo_db)
    with psycopg.connect(demo_db) as conn:
        facts = p6.gate_tiers_done(conn, CFG)
    assert facts["logging_triggers_left"] == 0 and set(facts["tiers"].values()) == {"verified"}


def test_validation_gate_refuses_missing_failed_and_stale_results(demo_db):
    p1(demo_db)
    with psycopg.connect(demo_db) as conn:
        with pytest.raises(GateClosed, match="no recorded result of suite 'parity'|never run"):
            p6.gate_validation(conn, CFG, max_age_hours=24, environment="staging")
    record_validation(demo_db, "parity", True)
    record_validation(demo_db, "events_integrity", False)
    with psycopg.connect(demo_db) as conn:
        with pytest.raises(GateClosed, match="events_integrity.*FAILED"):
            p6.gate_validation(conn, CFG, max_age_hours=24, environment="staging")
    with psycopg.connect(demo_db) as conn:
        conn.execute("DELETE FROM activity_migration.validation_results WHERE suite = 'events_integrity'")
    record_validation(demo_db, "events_integrity", True, age_hours=30)
    with psycopg.connect(demo_db) as conn:
        with pytest.raises(GateClosed, match="events_integrity.*30.0 h old"):
            p6.gate_validation(conn, CFG, max_age_hours=24, environment="staging")
        out = p6.gate_validation(conn, CFG, max_age_hours=48, environment="staging")
    assert set(out) == {"parity", "events_integrity"}
    with psycopg.connect(demo_db) as conn:  # a staging pass does not open production
        with pytest.raises(GateClosed):
            p6.gate_validation(conn, CFG, max_age_hours=48, environment="production")


def test_quarantine_gate_refuses_open_rows_until_acknowledged_with_the_cli(demo_db, capsys):
    p1(demo_db)
    with psycopg.connect(demo_db) as conn:
        conn.execute(
            "INSERT INTO activity_migration.quarantine (legacy_id, reason, original_row) VALUES "
            "(%s, 'unknown_entity_type', '{}'), (%s, 'broken_text', '{}')",
            (str(uuid.uuid4()), str(uuid.uuid4())),
        )
        conn.commit()
        with pytest.raises(GateClosed, match="2 quarantined rows are neither resolved nor acknowledged"):
            p6.gate_quarantine(conn, CFG)
    assert cli(["quarantine", "--dsn", demo_db]) == 1
    assert cli(["quarantine", "--dsn", demo_db, "--ack", "--by", "alice", "--reason", "broken_text"]) == 0
    with psycopg.connect(demo_db) as conn:
        with pytest.raises(GateClosed, match="1 quarantined rows"):
            p6.gate_quarantine(conn, CFG)
    assert cli(["quarantine", "--dsn", demo_db, "--ack", "--all"]) == 2  # --by is required
    assert cli(["quarantine", "--dsn", demo_db, "--ack", "--by", "alice", "--all"]) == 0
    with psycopg.connect(demo_db) as conn:
        assert p6.gate_quarantine(conn, CFG) == {"quarantined": 2, "open": 0}
        who = conn.execute("SELECT DISTINCT acknowledged_by FROM activity_migration.quarantine").fetchall()
    assert who == [("alice",)]


def test_cleanup_archives_under_load_and_rollback_restores_every_row(demo_db):
    p1(demo_db)
    p2(demo_db)
    p3.apply(demo_db, CFG, CTX)
    p5_all(demo_db)
    with psycopg.connect(demo_db) as conn:
        pub_before = conn.execute(
            "SELECT pg_get_functiondef('public.publish_activity(text, text, text, jsonb, uuid, "
            "uuid, text, text, timestamptz, inet, text, text)'::regprocedure)"
        ).fetchone()[0]
        ids_before = {r[0] for r in conn.execute("SELECT id FROM public.activity_logs")}
    bg = Background(demo_db, rate=60)
    try:
        time.sleep(1)
        p6.backup(demo_db, CFG, CTX)
        out = p6.archive(demo_db, CFG, CTX, retention_days=30)
        assert p6.archive(demo_db, CFG, CTX)["skipped"] == "already archived"
        ck = p6.checksum(demo_db, CFG, CTX)
        dropped = p6.drop_legacy_functions(demo_db, CFG, CTX)["dropped"]
        time.sleep(2)
        facts = p6.verify(demo_db, CFG)
        with psycopg.connect(demo_db) as conn:
            arch_rows = conn.execute(
                f"SELECT count(*) FROM activity_migration.{facts['archive']}"
            ).fetchone()[0]
            born_after = conn.execute(
                "SELECT count(*) FROM public.events WHERE legacy_activity_log_id IS NULL"
            ).fetchone()[0]
            # the compat view under the old name: as a user, only own rows
            uid = conn.execute(
                "SELECT actor_id::text FROM public.events WHERE actor_id IS NOT NULL LIMIT 1"
            ).fetchone()[0]
            left_after_cleanup = p6.legacy_functions(conn, CFG)
            conn.commit()
            with p3.as_app_user(conn, uid):
                seen = {r[0] for r in conn.execute("SELECT DISTINCT user_id::text FROM public.activity_logs")}
        with pytest.raises(GateClosed, match="retention is 30 days"):
            p6.delete_archive(demo_db, CFG, CTX)
        back = p6.rollback(demo_db, CFG, CTX)
        time.sleep(1)
    finally:
        report = bg.stop()
    assert report.transactions_failed == 0, report.summary()
    assert out["writers_drained"] and ck["rows"] == arch_rows >= len(ids_before)
    # phase 5 drops a tier's functions with its triggers when nothing else uses them; whatever is
    # left is dropped here, and none survives cleanup
    assert born_after > 0 and seen == {uid} and left_after_cleanup == []
    assert back["events_copied_back"] >= born_after
    with psycopg.connect(demo_db) as conn:
        assert (
            conn.execute(
                "SELECT relkind::text FROM pg_class WHERE oid = 'public.activity_logs'::regclass"
            ).fetchone()[0]
            == "r"
        )
        ids_after = {r[0] for r in conn.execute("SELECT id FROM public.activity_logs")}
        assert ids_before <= ids_after
        assert (
            conn.execute(
                "SELECT count(*) FROM public.events WHERE legacy_activity_log_id IS NULL"
            ).fetchone()[0]
            == 0
        )
        assert (
            conn.execute(
                "SELECT pg_get_functiondef('public.publish_activity(text, text, text, jsonb, uuid, uuid, "
                "text, text, timestamptz, inet, text, text)'::regprocedure)"
            ).fetchone()[0]
            == pub_before
        )
        for ident in dropped:
            assert conn.execute("SELECT to_regprocedure(%s) IS NOT NULL", (ident,)).fetchone()[0], ident
        assert ledger.last_step(conn, "p6_cleanup", "rollback", cfg=CFG)["status"] == "succeeded"


def test_archive_deletion_after_force_makes_rollback_impossible(demo_db):
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)  # the archive may be deleted only when every row of it is in events
    p5_all(demo_db)
    p6.backup(demo_db, CFG, CTX)
    p6.archive(demo_db, CFG, CTX, keep_compat_view=False)
    p6.checksum(demo_db, CFG, CTX)
    with psycopg.connect(demo_db) as conn:
        assert conn.execute("SELECT to_regclass('public.activity_logs')").fetchone()[0] is None
        with pytest.raises(GateClosed, match="retention is 30 days"):
            p6.check_archive_deletion(conn, CFG)
        facts = p6.check_archive_deletion(conn, CFG, force=True)
    assert "FORCED" in facts["markdown"] and "impossible" in facts["markdown"]
    out = p6.delete_archive(demo_db, CFG, CTX, force=True, by="pytest")
    assert out["forced"] and "no longer possible" in out["consequence"]
    with pytest.raises(GateClosed, match="cannot roll back phase 6"):
        p6.rollback(demo_db, CFG, CTX)


def test_archive_deletion_refused_when_one_archived_row_differs_from_its_event(demo_db):
    """The archive is the last copy of the legacy rows: before it is dropped, a full parity of the
    archive against events runs in the same step, and one differing field stops it."""
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    p5_all(demo_db)
    p6.backup(demo_db, CFG, CTX)
    p6.archive(demo_db, CFG, CTX, retention_days=0, keep_compat_view=False)
    p6.checksum(demo_db, CFG, CTX)
    with psycopg.connect(demo_db) as conn:
        tampered = conn.execute(
            "UPDATE public.events SET description = 'changed after cleanup' WHERE id = "
            "(SELECT id FROM public.events WHERE legacy_activity_log_id IS NOT NULL "
            "ORDER BY id LIMIT 1) RETURNING legacy_activity_log_id"
        ).fetchone()[0]
        conn.commit()
    with pytest.raises(
        GateClosed, match=r"and events differ.*mismatch\.description: 1 \(e\.g\. " + str(tampered)
    ):
        p6.delete_archive(demo_db, CFG, CTX, by="pytest")
    with psycopg.connect(demo_db) as conn:
        arch = p6.current_archive(conn, CFG)
        assert arch["deleted_at"] is None
        assert conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"activity_migration.{arch['name']}",)
        ).fetchone()[0]
        # put it back: now the same deletion goes through
        conn.execute(
            "UPDATE public.events e SET description = a.description FROM activity_migration."
            + arch["name"]
            + " a WHERE a.id = e.legacy_activity_log_id AND e.legacy_activity_log_id = %s",
            (tampered,),
        )
        conn.commit()
    out = p6.delete_archive(demo_db, CFG, CTX, by="pytest")
    assert out["verified"]["parity"]["failing"] == [] and out["verified"]["checksum_now"] == out["checksum"]


def test_archive_deletion_refused_when_the_archive_changed(demo_db):
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    p5_all(demo_db)
    p6.backup(demo_db, CFG, CTX)
    p6.archive(demo_db, CFG, CTX, retention_days=0, keep_compat_view=False)
    p6.checksum(demo_db, CFG, CTX)
    with psycopg.connect(demo_db) as conn:
        name = p6.current_archive(conn, CFG)["name"]
        conn.execute(
            f"DELETE FROM activity_migration.{name} WHERE id = (SELECT id FROM activity_migration.{name} "
            "ORDER BY id LIMIT 1)"
        )
        conn.commit()
    with pytest.raises(GateClosed, match="changed since phase 6 recorded it"):
        p6.delete_archive(demo_db, CFG, CTX, by="pytest")


def test_archived_table_keeps_no_grant_and_the_rollback_gives_every_grant_back(demo_db):
    """After cleanup the archive (personal data) is readable by its owner only; undoing phase 6
    restores the legacy table's grants and RLS flag exactly as the catalog printed them."""
    p1(demo_db)
    p2(demo_db)
    p5_all(demo_db)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute(
            "GRANT SELECT (action, created_at) ON public.activity_logs TO anon"
        )  # a column grant too
        before = conn.execute(
            "SELECT relacl::text, relrowsecurity, (SELECT array_agg(attacl::text ORDER BY attnum) "
            "FROM pg_attribute WHERE attrelid = c.oid AND attacl IS NOT NULL) "
            "FROM pg_class c WHERE oid = 'public.activity_logs'::regclass"
        ).fetchone()
    assert "authenticated" in before[0]
    p6.backup(demo_db, CFG, CTX)
    p6.archive(demo_db, CFG, CTX)
    with psycopg.connect(demo_db) as conn:
        name = p6.current_archive(conn, CFG)["name"]
        grantees = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_class c, aclexplode(c.relacl) a "
            "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner "
            "UNION SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_attribute t, aclexplode(t.attacl) a "
            "WHERE t.attrelid = %s::regclass AND t.attacl IS NOT NULL",
            (f"activity_migration.{name}", f"activity_migration.{name}"),
        ).fetchall()
    assert grantees == []
    p6.rollback(demo_db, CFG, CTX)
    with psycopg.connect(demo_db) as conn:
        after = conn.execute(
            "SELECT relacl::text, relrowsecurity, (SELECT array_agg(attacl::text ORDER BY attnum) "
            "FROM pg_attribute WHERE attrelid = c.oid AND attacl IS NOT NULL) "
            "FROM pg_class c WHERE oid = 'public.activity_logs'::regclass"
        ).fetchone()
    assert after == before


def test_rollback_of_phase_6_with_an_identity_key_generated_always(fresh_db, tmp_path):
    """A bigint key GENERATED ALWAYS AS IDENTITY refuses explicit values unless the insert says
    OVERRIDING SYSTEM VALUE: the rollback's copy of events born after cleanup must say it, and the
    key's sequence stays past the highest id."""
    import foreign_app
    from activity_migration import tiers
    from activity_migration.config import load_config
    from activity_migration.phases import p1_infrastructure, p2_dual_write, p4_backfill

    foreign_app.create(fresh_db, history_rows=200)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.activity_logs ALTER COLUMN id SET GENERATED ALWAYS")
    cfg = load_config(foreign_app.write_config(tmp_path))
    facts = p1_infrastructure.apply(fresh_db, cfg, CTX)["preflight"]
    assert facts["legacy_key_kind"].startswith("identity GENERATED ALWAYS")
    p2_dual_write.apply(fresh_db, cfg, CTX)
    p4_backfill.apply(fresh_db, cfg, CTX)
    for t in cfg.tiers:
        with psycopg.connect(fresh_db) as conn:
            tiers.backup_tier(conn, cfg, tiers.plan_tier(conn, cfg, t.tier))
        tiers.drop_tier(fresh_db, cfg, t.tier)
    p6.backup(fresh_db, cfg, CTX)
    p6.archive(fresh_db, cfg, CTX)
    p6.checksum(fresh_db, cfg, CTX)
    with psycopg.connect(fresh_db) as conn:  # an event born after cleanup (the service publishes)
        conn.execute("SELECT public.publish_activity('comment.created', 'comment', 'after-cleanup')")
        conn.commit()
    out = p6.rollback(fresh_db, cfg, CTX)
    assert out["events_copied_back"] == 1
    with psycopg.connect(fresh_db) as conn:
        new_id = conn.execute(
            "SELECT id FROM public.activity_logs WHERE entity_id = 'after-cleanup'"
        ).fetchone()[0]
        assert (
            conn.execute(
                "SELECT legacy_activity_log_id FROM public.events WHERE entity_id = 'after-cleanup'"
            ).fetchone()[0]
            == new_id
        )
        conn.execute("INSERT INTO public.activity_logs (action, entity_type) VALUES ('created', 'comment')")
        assert conn.execute("SELECT max(id) FROM public.activity_logs").fetchone()[0] > new_id
