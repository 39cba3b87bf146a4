-- The sequences a table owns (serial or identity columns), by name.
-- Read only; idempotent. Locks: none (catalog reads). No placeholders.
-- Bound (named): table, the qualified table name.
SELECT s.relname AS name
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid
WHERE d.refobjid = to_regclass(%(table)s) AND d.classid = 'pg_class'::regclass
  AND s.relkind = 'S' AND d.deptype IN ('a', 'i')
ORDER BY 1
