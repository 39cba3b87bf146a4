-- Create the target table public.events (name from config) and its constraint indexes.
-- Idempotent (IF NOT EXISTS). Locks: none on existing tables (a new, empty table).
-- Placeholders: {events} qualified target table, {legacy_key_type} the type of the source
-- key (uuid or bigint/integer, read from the catalog), {legacy_key_unique} constraint name.
-- The secondary indexes are built CONCURRENTLY by later steps.

CREATE TABLE IF NOT EXISTS {events} (
    id                      uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type              text        NOT NULL,
    category                text        NOT NULL,
    actor_id                uuid,
    customer_id             uuid,
    entity_type             text        NOT NULL,
    entity_id               text,
    description             text,
    payload                 jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(payload) = 'object'),
    source                  text        NOT NULL CHECK (source IN ('trigger', 'service', 'backfill')),
    legacy_activity_log_id  {legacy_key_type},
    ip_address              inet,
    user_agent              text,
    occurred_at             timestamptz NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT {legacy_key_unique} UNIQUE (legacy_activity_log_id)
);
