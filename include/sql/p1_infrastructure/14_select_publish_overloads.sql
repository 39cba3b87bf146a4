-- Other functions named publish_activity in the target schema than the API's own signature
-- (named-argument calls would be ambiguous). Read-only; idempotent. Locks: none (catalog reads).
-- Bound (positional): target schema, the API's regprocedure text. No placeholder.
SELECT p.oid::regprocedure::text AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %s AND p.proname = 'publish_activity' AND p.oid IS DISTINCT FROM to_regprocedure(%s)
