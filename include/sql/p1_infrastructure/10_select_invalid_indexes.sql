-- The INVALID indexes of one table (left by a failed CREATE INDEX CONCURRENTLY; the next build
-- drops and rebuilds them). Read-only; idempotent. Locks: none (catalog reads).
-- Bound (positional): the table's schema, the table's name. No placeholder.
SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND NOT i.indisvalid
