-- Does the database carry the demo seed's mark: the comment on schema auth contains the given
-- text (a substring match, so a later seed version still counts). Read-only; idempotent.
-- Locks: none (catalog reads). Bound (positional): the mark's text. No placeholder.
-- Executed with a parameter: the LIKE wildcards are doubled for psycopg.
SELECT coalesce(obj_description(to_regnamespace('auth'), 'pg_namespace'), '')
       LIKE '%%' || %s || '%%'
