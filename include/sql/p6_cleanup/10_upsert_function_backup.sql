-- Back up a function's current definition (pg_get_functiondef) in the state schema's
-- ddl_backups, replacing an earlier backup of it under the same phase (and clearing its
-- restored mark). Idempotent. Locks: row lock on the ddl_backups row.
-- Placeholder: state, the state schema. Bound (named): phase, schema_name, object_name,
-- identity (the function's signature, also used to print its definition).
INSERT INTO {state}.ddl_backups (phase, object_type, schema_name, object_name, identity, definition)
VALUES (%(phase)s, 'function', %(schema_name)s, %(object_name)s, %(identity)s,
        pg_get_functiondef(to_regprocedure(%(identity)s)))
ON CONFLICT (phase, object_type, identity) DO UPDATE
   SET definition = EXCLUDED.definition,
       taken_at = clock_timestamp(),
       restored_at = NULL
