-- Every function returning trigger outside the system schemas that no trigger executes any
-- more (the caller keeps the ones that write the legacy log: the legacy trigger functions).
-- Read only; idempotent. Locks: none (catalog reads). No placeholders, no bound parameters.
SELECT p.oid, p.oid::regprocedure::text AS ident
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prorettype = 'trigger'::regtype
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid)
