-- The regprocedure identity and the body (prosrc) of the given functions (the logging
-- functions, from which phase 2 picks those naming the source table). Read-only; idempotent.
-- Locks: none (catalog reads). Bound (positional): the functions' oids (oid[]). No placeholder.
SELECT p.oid::regprocedure::text AS identity, p.prosrc FROM pg_proc p WHERE p.oid = ANY(%s)
