-- The schema and the name of one function given by identity, as 'schema|name'.
-- Read only; idempotent. Locks: none (catalog reads). No placeholders.
-- Bound (named): identity, the function's signature.
SELECT n.nspname || '|' || p.proname
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.oid = to_regprocedure(%(identity)s)
