"""Checks the application-level tests share: zero loss, one scalar."""

from __future__ import annotations

import psycopg


def scalar(dsn: str, query: str, params: tuple | None = None):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchone()[0]


def zero_loss(dsn: str, log_table: str = "public.activity_logs") -> dict:
    """Every log row in events exactly once, or (and only then) in the quarantine."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"""
            SELECT count(*),
                   count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM public.events e WHERE
                       e.legacy_activity_log_id = a.id)
                                      AND NOT EXISTS (SELECT 1 FROM activity_migration.quarantine q
                                                       WHERE q.legacy_id = a.id::text)),
                   (SELECT count(*) FROM (SELECT legacy_activity_log_id FROM public.events
                                           WHERE legacy_activity_log_id IS NOT NULL
                                           GROUP BY 1 HAVING count(*) > 1) d),
                   (SELECT count(*) FROM activity_migration.quarantine)
            FROM {log_table} a""").fetchone()
    return dict(zip(("rows", "missing", "duplicated", "quarantined"), row))
