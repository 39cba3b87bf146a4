-- Whether row level security is enabled on one table (pg_class.relrowsecurity); no row when
-- the table does not exist. Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters (positional): the table's schema, then its name.
SELECT c.relrowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
