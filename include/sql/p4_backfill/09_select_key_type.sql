-- The type of the source table's key column as format_type prints it (uuid, bigint, ...);
-- no row when the column does not exist.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters (positional): source schema, source table, key column.
SELECT format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s AND NOT a.attisdropped
