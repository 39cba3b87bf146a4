-- Record (or refresh) the backup of one trigger or function of a phase-5 tier.
-- Idempotent: one row per (phase, object_type, identity); a refresh replaces the definition
-- with what is live now (the caller only backs up objects that exist) and clears
-- restored_at. Locks: row lock on the backup row. Placeholder {state}: state schema.
INSERT INTO {state}.ddl_backups
       (phase, tier, object_type, schema_name, object_name, table_name, identity, definition, enabled, details)
VALUES (%(phase)s, %(tier)s, %(object_type)s, %(schema_name)s, %(object_name)s, %(table_name)s, %(identity)s,
        %(definition)s, %(enabled)s, %(details)s)
ON CONFLICT (phase, object_type, identity) DO UPDATE
   SET tier = EXCLUDED.tier, schema_name = EXCLUDED.schema_name, object_name = EXCLUDED.object_name,
       table_name = EXCLUDED.table_name, definition = EXCLUDED.definition, enabled = EXCLUDED.enabled,
       details = EXCLUDED.details, taken_at = clock_timestamp(), restored_at = NULL
