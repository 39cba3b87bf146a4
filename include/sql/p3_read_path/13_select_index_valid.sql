-- Whether an index is valid (pg_index.indisvalid; false after a failed concurrent build);
-- no row when the index does not exist.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters (positional): index schema, index name.
SELECT i.indisvalid
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %s AND c.relname = %s
