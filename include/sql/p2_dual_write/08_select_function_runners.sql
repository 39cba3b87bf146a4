-- How each rewritten function reaches the internal writer: as its owner (SECURITY DEFINER) or
-- as whoever fires the trigger (SECURITY INVOKER). API roles may never execute the writer.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Bound (named): identities (text[] of regprocedure texts). No placeholder.
SELECT p.oid::regprocedure::text AS identity, p.prosecdef AS definer, pg_get_userbyid(p.proowner) AS role
FROM pg_proc p
WHERE p.oid = ANY(ARRAY(SELECT to_regprocedure(x) FROM unnest(%(identities)s::text[]) x))
