"""The privilege audit: it reads the catalog only, and fails a phase on any grant the migration
did not mean (privileges.py is the one list), on a missing one, and on a state table without RLS."""

from __future__ import annotations

import psycopg
import pytest

from _forward import CFG, CTX, p1, p2
from activity_migration import privileges
from activity_migration.errors import MigrationError
from dagrun import dags_test


def _audit(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        return privileges.audit(conn, CFG)


def test_audit_passes_after_phase_1_under_supabase_default_privileges(demo_db):
    with psycopg.connect(demo_db) as conn:
        defaults = conn.execute(
            "SELECT count(*) FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace "
            "WHERE n.nspname = 'public'"
        ).fetchone()[0]
    assert defaults == 3, "the demo base carries Supabase's default privileges (tables, functions, sequences)"
    p1(demo_db)
    result = _audit(demo_db)
    assert result["passed"], result
    with psycopg.connect(demo_db) as conn:
        # what the defaults would have granted, and the migration revoked
        assert not conn.execute(
            "SELECT has_function_privilege('anon', 'public.refresh_event_analytics()', 'EXECUTE')"
        ).fetchone()[0]
        assert not conn.execute("SELECT has_table_privilege('anon', 'public.events', 'SELECT')").fetchone()[0]
        assert not conn.execute(
            "SELECT has_table_privilege('authenticated', 'public.events', 'TRUNCATE')"
        ).fetchone()[0]


def test_audit_names_each_planted_grant_a_missing_grant_and_rls_turned_off(demo_db):
    p1(demo_db)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute("GRANT USAGE ON SCHEMA activity_migration TO anon")
        conn.execute("GRANT SELECT ON activity_migration.quarantine TO authenticated")
        conn.execute("GRANT SELECT (reason) ON activity_migration.quarantine TO anon")
        conn.execute("GRANT EXECUTE ON FUNCTION public.refresh_event_analytics() TO anon")
        conn.execute("GRANT EXECUTE ON FUNCTION activity_migration.sanitize_text(text) TO PUBLIC")
        conn.execute("GRANT SELECT ON public.event_daily_counts TO authenticated")
        conn.execute(
            "REVOKE EXECUTE ON FUNCTION public.publish_activity(text, text, text, jsonb, uuid, uuid, text, "
            "text, timestamptz, inet, text, text) FROM authenticated"
        )
        conn.execute("ALTER TABLE activity_migration.ddl_backups DISABLE ROW LEVEL SECURITY")
    result = _audit(demo_db)
    assert not result["passed"]
    extra = "\n".join(result["extra"])
    for planted in (
        "anon has USAGE on schema activity_migration",
        "authenticated has SELECT on table activity_migration.quarantine",
        "anon has SELECT on column activity_migration.quarantine.reason",
        "anon has EXECUTE on function public.refresh_event_analytics()",
        "PUBLIC has EXECUTE on function activity_migration.sanitize_text(text)",
        "authenticated has SELECT on materialized view public.event_daily_counts",
    ):
        assert planted in extra, (planted, extra)
    assert any("authenticated lacks EXECUTE on public.publish_activity(" in m for m in result["missing"])
    assert result["rls_off"] == ["activity_migration.ddl_backups"]
    with pytest.raises(MigrationError, match="privilege audit failed"):
        privileges.require_clean(demo_db, CFG)


def test_a_planted_grant_fails_the_phase_3_dag_at_its_audit(demo_db, airflow_env):
    p1(demo_db)
    p2(demo_db)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute("GRANT SELECT ON public.events TO anon")
    proc = dags_test(airflow_env, "migration_p3_read_path", {"environment": "staging"}, staging_dsn=demo_db)
    assert proc.dag_run_state == "failed"
    assert "privilege audit failed" in proc.stdout and "anon has SELECT on table public.events" in proc.stdout
    with psycopg.connect(demo_db) as conn:
        row = conn.execute(
            "SELECT status FROM activity_migration.phase_ledger WHERE phase = 'p3_read_path' "
            "AND step = 'privilege_audit' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row == ("failed",)


def test_the_archive_of_phase_1_rollback_is_locked_down_too(demo_db):
    p1(demo_db)
    from activity_migration.phases import p1_infrastructure

    p1_infrastructure.rollback(demo_db, CFG, CTX)
    with psycopg.connect(demo_db) as conn:
        acl = conn.execute(
            "SELECT relacl::text, relrowsecurity FROM pg_class "
            "WHERE oid = 'activity_migration.events_rollback_archive'::regclass"
        ).fetchone()
    assert acl[1] is True and (acl[0] is None or "anon" not in acl[0] and "authenticated" not in acl[0])
    assert _audit(demo_db)["extra"] == []


def test_the_registry_and_the_outcome_samples_stay_closed_under_global_default_privileges(demo_db):
    """A Supabase project whose owner also set default privileges for every schema (not only
    public): the state tables added later (event-type registry, outcome samples) grant nothing."""
    from activity_migration.outcome.baseline import capture

    with psycopg.connect(demo_db, autocommit=True) as conn:
        for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
            conn.execute(f"ALTER DEFAULT PRIVILEGES GRANT ALL ON {kind} TO anon, authenticated, service_role")
    p1(demo_db)
    capture(demo_db, CFG, CTX, phase="p1_infrastructure", window_s=0.5, query_runs=1)
    assert _audit(demo_db)["passed"]
    with psycopg.connect(demo_db) as conn:
        for table in ("event_types", "outcome_samples"):
            for role in ("anon", "authenticated", "service_role"):
                for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                    granted = conn.execute(
                        "SELECT has_table_privilege(%s, %s, %s)",
                        (role, f"{CFG.state_schema}.{table}", privilege),
                    ).fetchone()[0]
                    assert not granted, f"{role} has {privilege} on {table}"
    # and as the role itself: the schema is closed, whatever the table says
    with psycopg.connect(demo_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SET ROLE authenticated")
        conn.execute(f"UPDATE {CFG.state_schema}.event_types SET description = 'forged'")
