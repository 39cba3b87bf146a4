"""A comparable picture of the application schemas' catalog, for "rollback restores it" tests.

``snapshot(dsn)`` returns a dict of sorted lists: every function's ``pg_get_functiondef`` (and
its ACL), every user trigger's ``pg_get_triggerdef`` with its enabled flag, every policy,
every index definition (with validity), tables/views/matviews with their columns, RLS flags
and ACLs. System schemas and the migration's state schema are left out (the ledger must
survive a rollback, so it always differs). Compare two snapshots with ``==``, or use
``diff(a, b)`` for a readable failure message.
"""

from __future__ import annotations

from typing import Any

import psycopg

EXCLUDED = ("pg_catalog", "information_schema", "pg_toast")


def _q(conn: psycopg.Connection, query: str, params: tuple) -> list[tuple]:
    return [tuple(str(v) for v in row) for row in conn.execute(query, params).fetchall()]


def snapshot(
    dsn: str, state_schema: str = "activity_migration", extra_excluded: tuple[str, ...] = ()
) -> dict[str, Any]:
    excluded = list(EXCLUDED + (state_schema,) + tuple(extra_excluded))
    with psycopg.connect(dsn) as conn:
        schema_filter = (
            "n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast%%'"
        )
        return {
            "schemas": sorted(
                _q(conn, f"SELECT n.nspname, n.nspacl FROM pg_namespace n WHERE {schema_filter}", (excluded,))
            ),
            "functions": sorted(
                _q(
                    conn,
                    f"""
                SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid), coalesce(p.proacl::text, '')
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE {schema_filter} AND p.prokind IN ('f', 'p')""",
                    (excluded,),
                )
            ),
            "triggers": sorted(
                _q(
                    conn,
                    f"""
                SELECT c.oid::regclass::text, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
                FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid =
                    c.relnamespace
                WHERE NOT t.tgisinternal AND {schema_filter}""",
                    (excluded,),
                )
            ),
            "policies": sorted(
                _q(
                    conn,
                    """
                SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, coalesce(qual, ''),
                       coalesce(with_check, '') FROM pg_policies WHERE schemaname <> ALL(%s)""",
                    (excluded,),
                )
            ),
            "indexes": sorted(
                _q(
                    conn,
                    f"""
                SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid =
                    c.relnamespace
                WHERE {schema_filter}""",
                    (excluded,),
                )
            ),
            "relations": sorted(
                _q(
                    conn,
                    f"""
                SELECT n.nspname, c.relname, c.relkind, c.relrowsecurity, coalesce(c.relacl::text, ''),
                       coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                        || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                        || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), ', '
                                            ORDER BY a.attnum)
                                 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND
                                     d.adnum = a.attnum
                                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {schema_filter}""",
                    (excluded,),
                )
            ),
            "constraints": sorted(
                _q(
                    conn,
                    f"""
                SELECT n.nspname, co.conname, co.conrelid::regclass::text, pg_get_constraintdef(co.oid)
                FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE {schema_filter}""",
                    (excluded,),
                )
            ),
        }


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, list]]:
    """Per section: entries only in ``a`` and only in ``b`` (empty dict when equal)."""
    out = {}
    for key in sorted(set(a) | set(b)):
        sa, sb = set(a.get(key, [])), set(b.get(key, []))
        if sa != sb:
            out[key] = {"only_before": sorted(sa - sb)[:20], "only_after": sorted(sb - sa)[:20]}
    return out
