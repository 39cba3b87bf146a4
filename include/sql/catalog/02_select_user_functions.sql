-- Every user function and procedure (outside pg_catalog and information_schema) with its
-- source text, to find the ones that log activity.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters: none.
SELECT p.oid AS function_oid, n.nspname AS function_schema, p.proname AS function_name, p.prosrc
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND p.prokind IN ('f', 'p')
