-- The archive that phase 1's rollback copies events into before dropping the table: same
-- columns as events plus archived_at. Idempotent (IF NOT EXISTS). Locks: ACCESS EXCLUSIVE on
-- the new table only (the caller already holds ACCESS EXCLUSIVE on events).
-- Placeholders: state (the state schema), events (the events table). No bound parameter.
CREATE TABLE IF NOT EXISTS {state}.events_rollback_archive (LIKE {events}, archived_at
    timestamptz NOT NULL DEFAULT now())
