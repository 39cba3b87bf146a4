"""The demo's realtime pieces beside the seed: a logical slot like Supabase Realtime's, and one
service call publishing an event type nobody registered (the registry must report it).

The slot is created only where ``wal_level = logical`` (the embedded demo server is started
with it) and only on a database carrying the demo seed's mark. It is created with the built-in
``pgoutput`` plugin (Realtime names the publication, ``supabase_realtime``, when it streams) and
nothing consumes it: it retains WAL from its creation on, as a stalled Realtime would, so the
watch reads real, growing figures. A database holding a logical slot cannot be dropped:
:func:`drop_database_slots` first (``make demo`` does).
"""

from __future__ import annotations

import re

import psycopg

from ..db import connect, scalar
from .app import SEED_MARKER

SLOT_PREFIX = "supabase_realtime_replication_slot_"
NEW_EVENT_TYPE = "notification.digest_sent"  # not produced by the legacy triggers, not registered


def demo_slot_name(dbname: str) -> str:
    return (SLOT_PREFIX + re.sub(r"[^a-z0-9_]", "_", dbname.lower()))[:63]


def create_demo_slot(dsn: str) -> str:
    """Create the demo's logical slot (idempotent); returns what was done, or why not."""
    with connect(dsn, autocommit=True) as conn:
        wal_level = scalar(conn, "SHOW wal_level")
        if wal_level != "logical":
            return f"no demo slot: wal_level = {wal_level} (logical decoding needs logical)"
        if scalar(conn, "SELECT obj_description(to_regnamespace('auth'), 'pg_namespace')") != SEED_MARKER:
            return "no demo slot: not a demo database"
        name = demo_slot_name(str(scalar(conn, "SELECT current_database()")))
        if scalar(conn, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (name,)):
            return f"demo slot {name} exists"
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
        return f"demo slot {name} created (pgoutput)"


def drop_database_slots(conn: psycopg.Connection, dbname: str) -> int:
    """Drop the inactive replication slots of ``dbname`` (before dropping the database)."""
    rows = conn.execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database "
        "= %s "
        "AND NOT active",
        (dbname,),
    ).fetchall()
    return len(rows)


def publish_new_event_type(dsn: str) -> str | None:
    """One service call (as ``service_role``) publishing NEW_EVENT_TYPE; its event id, or None
    before phase 1 (no publish_activity yet)."""
    with connect(dsn) as conn:
        if not scalar(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'publish_activity' "
            "AND pronamespace = 'public'::regnamespace)",
        ):
            return None
        conn.execute("SET LOCAL ROLE service_role")
        event_id = scalar(
            conn,
            "SELECT public.publish_activity(p_event_type => %s, p_entity_type => "
            "'notification', "
            'p_payload => \'{"digest": "weekly", "items": 7}\'::jsonb, p_source => '
            "'service', "
            "p_description => 'weekly digest sent')",
            (NEW_EVENT_TYPE,),
        )
        conn.commit()
        return str(event_id)
