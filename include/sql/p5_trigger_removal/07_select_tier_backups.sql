-- The phase-5 backups: trigger rows of one tier, or function rows by identity.
-- Read-only. Locks: none. Placeholder {state}: state schema. Parameters: %(phase)s,
-- %(tier)s (NULL: any tier), %(object_type)s, %(identities)s (NULL: any identity).
SELECT id, tier, object_type, schema_name, object_name, table_name, identity, definition, enabled,
       details, taken_at, restored_at
FROM {state}.ddl_backups
WHERE phase = %(phase)s
  AND object_type = %(object_type)s
  AND (%(tier)s::int IS NULL OR tier = %(tier)s::int)
  AND (%(identities)s::text[] IS NULL OR identity = ANY(%(identities)s::text[]))
ORDER BY identity
