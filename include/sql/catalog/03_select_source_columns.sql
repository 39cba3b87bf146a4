-- The live columns of one table: name, catalog type (format_type), type category, and
-- whether the column has a default or is an identity column.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters (positional): the table's schema, then its name.
-- Executed with parameters: the format() pattern doubles its percent signs.
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typcategory AS category,
       a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) IS NOT NULL AS has_default
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND a.attnum > 0 AND NOT a.attisdropped
