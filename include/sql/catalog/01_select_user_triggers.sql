-- Every user trigger (not internal, not in pg_catalog or information_schema) with its
-- table, its function and its definition as Postgres prints it, in schema/table/name order.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters: none.
SELECT t.oid AS trigger_oid,
       n.nspname AS schema_name,
       c.relname AS table_name,
       t.tgname AS trigger_name,
       t.tgenabled AS enabled,
       p.oid AS function_oid,
       p.oid::regprocedure::text AS function_identity,
       pn.nspname AS function_schema,
       p.proname AS function_name,
       pg_get_triggerdef(t.oid) AS trigger_def,
       (t.tgtype & 1) = 1 AS row_level
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
WHERE NOT t.tgisinternal
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY n.nspname, c.relname, t.tgname
