-- Read what a backup of triggers needs: the definition as the catalog prints it, the state
-- (tgenabled), the comment and the function the trigger executes (by oid).
-- Read-only, idempotent. Locks: none (catalog reads). Parameter: %(oids)s trigger oids.
-- Run it twice in one transaction: once under the session's search_path (the printed form
-- operators compare with) and once under search_path = pg_catalog (fully qualified names,
-- the form that is safe to replay on restore whatever the restoring session's path is).
SELECT t.oid                                  AS trigger_oid,
       n.nspname                              AS schema_name,
       c.relname                              AS table_name,
       t.tgname                               AS trigger_name,
       t.tgenabled                            AS enabled,
       pg_get_triggerdef(t.oid)               AS definition,
       obj_description(t.oid, 'pg_trigger')   AS comment,
       t.tgfoid                               AS function_oid,
       t.tgfoid::regprocedure::text           AS function_identity
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.oid = ANY(%(oids)s::oid[])
ORDER BY n.nspname, c.relname, t.tgname
