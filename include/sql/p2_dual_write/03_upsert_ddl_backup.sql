-- Store (or refresh) the backup of one function's definition for phase 2's rollback; a refresh
-- clears restored_at. Idempotent (one row per phase, object type and identity).
-- Locks: a row lock in our own ddl_backups table only. Placeholder state (the state schema).
-- Bound (positional): phase, schema name, function name, regprocedure identity, definition.
-- Returns the backup's id.
INSERT INTO {state}.ddl_backups (phase, object_type, schema_name, object_name, identity, definition)
VALUES (%s, 'function', %s, %s, %s, %s)
ON CONFLICT (phase, object_type, identity) DO UPDATE
    SET definition = EXCLUDED.definition, taken_at = clock_timestamp(), restored_at = NULL
RETURNING id
