-- pg_class.relkind of one relation as text ('r' table, 'v' view, ...); no row when it does not
-- exist. Read-only; idempotent. Locks: none (catalog reads).
-- Bound (positional): schema name, relation name. No placeholder.
SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
