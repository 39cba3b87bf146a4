-- The application schemas rehearsal-copy copies: every schema but the system ones, the
-- temporary ones and the migration's own state schema, by name.
-- Read-only, idempotent. Locks: none (catalog read).
-- No placeholders. Parameter (named): state_schema, the state schema's name.
-- Executed with parameters, so each LIKE percent sign is doubled below.
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND nspname NOT LIKE 'pg\_temp\_%%' AND nspname NOT LIKE 'pg\_toast\_temp\_%%'
  AND nspname <> %(state_schema)s
ORDER BY nspname
