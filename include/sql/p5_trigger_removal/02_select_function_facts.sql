-- Read what a backup of functions needs: pg_get_functiondef, owner, effective privileges
-- (aclexplode of proacl, or of the default ACL when proacl is NULL), comment.
-- Read-only, idempotent. Locks: none (catalog reads). Parameter: %(oids)s function oids.
-- Run under search_path = pg_catalog for the qualified, replayable form (see 01).
SELECT p.oid                                  AS function_oid,
       n.nspname                              AS schema_name,
       p.proname                              AS function_name,
       p.oid::regprocedure::text              AS identity,
       pg_get_functiondef(p.oid)              AS definition,
       pg_get_function_identity_arguments(p.oid) AS identity_args,
       pg_get_userbyid(p.proowner)            AS owner,
       obj_description(p.oid, 'pg_proc')      AS comment,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                   'privilege', a.privilege_type,
                   'grantable', a.is_grantable)
                 ORDER BY a.grantee, a.privilege_type), '[]'::jsonb)
        FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a) AS privileges
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.oid = ANY(%(oids)s::oid[])
ORDER BY n.nspname, p.proname
