"""rehearsal-copy (activity_migration.rehearsal_copy) from the seeded demo app into an empty database."""

from __future__ import annotations

import pytest

from activity_migration import catalog
from activity_migration.cli import main as cli_main
from activity_migration.db import connection, fetch_all, scalar
from activity_migration.rehearsal_copy import CopyRefused, rehearsal_copy
from activity_migration.rehearsal_copy_catalog import FOREIGN_KEYS_SQL as _FKS_SQL

SCHEMAS = ["public", "auth"]


def triggers(dsn: str) -> dict[str, str]:
    with connection(dsn) as conn:
        return {
            f"{t['schema_name']}.{t['table_name']}.{t['trigger_name']}": t["trigger_def"]
            for t in catalog.all_triggers(conn)
        }


def functions(dsn: str) -> dict[str, str]:
    with connection(dsn) as conn:
        rows = fetch_all(
            conn,
            """
            SELECT p.oid::regprocedure::text AS ident, pg_get_functiondef(p.oid) AS def
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ANY(%s) AND p.prokind IN ('f', 'p')""",
            (SCHEMAS,),
        )
    return {r["ident"]: r["def"] for r in rows}


def policies(dsn: str) -> list[tuple]:
    with connection(dsn) as conn:
        rows = fetch_all(
            conn,
            """
            SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check
            FROM pg_policies ORDER BY 1, 2, 3""",
        )
    return [tuple(r.values()) for r in rows]


def rows_as_text(dsn: str, table: str) -> set[str]:
    with connection(dsn) as conn:
        return {r[0] for r in conn.execute(f"SELECT t::text FROM {table} t").fetchall()}


def count(dsn: str, table: str) -> int:
    with connection(dsn) as conn:
        return scalar(conn, f"SELECT count(*) FROM {table}")


def orphans(dsn: str) -> dict[str, int]:
    out = {}
    with connection(dsn) as conn:
        for fk in fetch_all(conn, _FKS_SQL, (SCHEMAS,)):
            cond = " AND ".join(f'p."{p}" = c."{c}"' for p, c in zip(fk["parent_cols"], fk["child_cols"]))
            nn = " AND ".join(f'c."{c}" IS NOT NULL' for c in fk["child_cols"])
            n = scalar(
                conn,
                f'SELECT count(*) FROM "{fk["child_schema"]}"."{fk["child"]}" c WHERE {nn} AND NOT '
                f'EXISTS (SELECT 1 FROM "{fk["parent_schema"]}"."{fk["parent"]}" p WHERE {cond})',
            )
            if n:
                out[f"{fk['child']}->{fk['parent']}"] = n
    return out


def test_copy_matches_catalog_and_samples_a_subset(demo_db, fresh_db):
    report = rehearsal_copy(demo_db, fresh_db, sample_rows=500)

    # the logging triggers, every function and every policy, as the catalog prints them
    src_triggers, tgt_triggers = triggers(demo_db), triggers(fresh_db)
    assert tgt_triggers == src_triggers
    with connection(demo_db) as s, connection(fresh_db) as t:
        src_logging = {x.identity: x.trigger_def for x in catalog.logging_triggers(s)}
        assert len(src_logging) == 64
        assert {x.identity: x.trigger_def for x in catalog.logging_triggers(t)} == src_logging
    assert functions(fresh_db) == functions(demo_db)
    assert policies(fresh_db) == policies(demo_db) and policies(demo_db)

    # the sample: exactly N activity_logs rows, each equal (all columns) to a source row
    copied = rows_as_text(fresh_db, "public.activity_logs")
    assert len(copied) == 500 == report.rows_of("public.activity_logs")
    assert copied <= rows_as_text(demo_db, "public.activity_logs")
    # the load fired no trigger: no activity row beyond the sample; app tables (small) copied whole
    for table in ("public.users", "public.investments", "public.payments", "auth.users"):
        assert count(fresh_db, table) == count(demo_db, table) > 0, table
        assert rows_as_text(fresh_db, table) == rows_as_text(demo_db, table)
    assert orphans(fresh_db) == {}
    assert not report.warnings


def test_refuses_non_empty_target_and_the_source(demo_db, fresh_db):
    with connection(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.something (x int)")
    with pytest.raises(CopyRefused, match="is not empty .*table public.something"):
        rehearsal_copy(demo_db, fresh_db, sample_rows=10)
    with pytest.raises(CopyRefused, match="is the source database itself"):
        rehearsal_copy(demo_db, demo_db, sample_rows=10)
    # the same database under another spelling of its DSN is still the source
    other = (
        demo_db.replace("host=127.0.0.1", "host=localhost") if "host=127.0.0.1" in demo_db else demo_db + " "
    )
    with pytest.raises(CopyRefused, match="is the source database itself"):
        rehearsal_copy(demo_db, other, sample_rows=10)
    assert count(demo_db, "public.activity_logs") > 0  # the source is untouched


def test_cli_with_sampled_app_tables_keeps_foreign_keys(demo_db, fresh_db, capsys):
    rc = cli_main(
        [
            "rehearsal-copy",
            "--from",
            demo_db,
            "--to",
            fresh_db,
            "--sample-rows",
            "200",
            "--max-table-rows",
            "20",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "public.activity_logs: 200 rows (sample)" in out
    assert count(fresh_db, "public.users") == 20
    assert orphans(fresh_db) == {}  # rows left without their parent were removed
    assert rows_as_text(fresh_db, "public.payments") <= rows_as_text(demo_db, "public.payments")
    # refusing is an error exit with one clear line
    assert cli_main(["rehearsal-copy", "--from", demo_db, "--to", fresh_db, "--sample-rows", "1"]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_workload_on_the_copy_produces_activity_rows(demo_db, fresh_db):
    rehearsal_copy(demo_db, fresh_db, sample_rows=100)
    before = count(fresh_db, "public.activity_logs")
    assert before == 100
    try:
        from activity_migration.demo.workload import run_workload
    except ImportError:  # the workload generator not there yet: play one write of the app by hand
        run_workload = None
    if run_workload is not None:
        report = run_workload(fresh_db, seconds=2, rate=30, connections=2)
        assert report.failed == 0
    else:
        with connection(fresh_db) as conn:
            conn.execute(
                "UPDATE public.projects SET name = name || ' (staging)' "
                "WHERE id = (SELECT id FROM public.projects LIMIT 1)"
            )
            conn.commit()
    assert count(fresh_db, "public.activity_logs") > before  # the copied triggers log on the copy
