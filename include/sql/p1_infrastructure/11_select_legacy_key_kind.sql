-- How the source key column gets its values: its identity kind (pg_attribute.attidentity) and
-- its default expression, if any. No row when the column does not exist.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Bound (positional): source schema, source table, key column name. No placeholder.
SELECT a.attidentity AS identity, pg_get_expr(d.adbin, d.adrelid) AS default_expr
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND a.attname = %s
