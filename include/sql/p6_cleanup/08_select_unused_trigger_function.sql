-- One function by identity, as regprocedure text, when it still exists, returns trigger and
-- no trigger executes it; no row otherwise. Read only; idempotent. Locks: none (catalog
-- reads). No placeholders. Bound (named): identity, the function's signature.
SELECT p.oid::regprocedure::text
FROM pg_proc p
WHERE p.oid = to_regprocedure(%(identity)s)
  AND p.prorettype = 'trigger'::regtype
  AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid)
