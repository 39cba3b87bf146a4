-- The live columns of one table and their types as format_type prints them (the shape check
-- of an existing events table). Read-only; idempotent. Locks: none (catalog reads).
-- Bound (positional): the table's schema, the table's name. No placeholder.
SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
WHERE attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND attnum > 0 AND NOT attisdropped
