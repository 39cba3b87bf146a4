-- The logging trigger functions (by oid) that the current role neither owns nor is a member of
-- the owner of: phase 2 must replace them and could not. Read-only; idempotent.
-- Locks: none (catalog reads). Bound (positional): the functions' oids (oid[]). No placeholder.
SELECT p.oid::regprocedure::text AS f FROM pg_proc p
WHERE p.oid = ANY(%s) AND NOT pg_has_role(current_user, p.proowner, 'USAGE')
