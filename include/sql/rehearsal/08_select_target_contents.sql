-- What makes a database non-empty (at most six examples): user schemas besides public,
-- tables, views, materialized views, sequences, foreign tables and functions outside
-- extensions. rehearsal-copy refuses a target that has any.
-- Read-only, idempotent. Locks: none (catalog read).
-- No placeholders, no parameters (executed without parameters: single LIKE percent signs).
WITH user_ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
), ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e')
SELECT 'schema ' || nspname AS what FROM user_ns
 WHERE nspname <> 'public' AND oid NOT IN (SELECT objid FROM ext)
UNION ALL
SELECT CASE c.relkind WHEN 'r' THEN 'table ' WHEN 'p' THEN 'table ' WHEN 'v' THEN 'view '
                      WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' ELSE 'relation ' END
       || n.nspname || '.' || c.relname
FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.oid NOT IN (SELECT objid FROM ext)
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text
FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
WHERE p.oid NOT IN (SELECT objid FROM ext)
ORDER BY 1 LIMIT 6
