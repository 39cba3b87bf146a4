-- The live columns of one relation, in column order: name and type as format_type prints it.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters (positional): schema, relation name.
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
