-- The populated materialized views of the given schemas, oldest first (a view over another
-- view usually comes after it), for a refresh on the copy.
-- Read-only, idempotent. Locks: none (catalog read).
-- No placeholders. Parameter (named): schemas, the application schema names (text array).
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'm' AND c.relispopulated AND n.nspname = ANY(%(schemas)s)
ORDER BY c.oid
