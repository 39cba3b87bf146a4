-- Lock the migration's state schema down: no privilege for PUBLIC or an API role (anon,
-- authenticated, service_role) on the schema or on anything in it (tables, sequences, views,
-- functions: Supabase's default privileges and Postgres's PUBLIC EXECUTE on new functions
-- would grant them), and row-level security on every table (no policy: nobody but the owner
-- reads a row, even a role given a grant by mistake). The one exception, the internal writer's
-- EXECUTE for the owners of rewritten trigger functions, is granted by phase 2 afterwards.
-- Idempotent and quiet: it revokes only where such a grant exists and enables RLS only where
-- it is off, so a clean schema is left untouched (no catalog writes, no locks). Locks: ACCESS
-- EXCLUSIVE on a state table whose RLS it enables (our own tables, briefly; the caller sets
-- lock_timeout). Run after every step that creates objects in the schema; the privilege audit
-- (privileges.audit) only reads. Placeholders: {state_name} the schema name as a literal.
DO $lock$
DECLARE
    v_schema  oid := to_regnamespace({state_name});
    v_roles   text := 'PUBLIC, anon, authenticated, service_role';
    v_api     oid[] := ARRAY[0::oid] || ARRAY(SELECT oid FROM pg_roles
                                              WHERE rolname IN ('anon', 'authenticated', 'service_role'));
    r         record;
BEGIN
    IF v_schema IS NULL THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
               WHERE n.oid = v_schema AND a.grantee = ANY(v_api)) THEN
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %s', {state_name}, v_roles);
    END IF;
    FOR r IN
        SELECT c.oid::regclass AS rel, c.relkind::text AS kind, c.relrowsecurity AS rls,
               EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault(
                           CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
                       WHERE a.grantee = ANY(v_api))
               OR EXISTS (SELECT 1 FROM pg_attribute at, aclexplode(at.attacl) a
                          WHERE at.attrelid = c.oid AND at.attacl IS NOT NULL AND a.grantee = ANY(v_api)) AS granted
        FROM pg_class c
        WHERE c.relnamespace = v_schema AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    LOOP
        IF r.granted THEN
            EXECUTE format('REVOKE ALL ON %s %s FROM %s',
                           CASE WHEN r.kind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.rel, v_roles);
        END IF;
        IF r.kind IN ('r', 'p') AND NOT r.rls THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', r.rel);
        END IF;
    END LOOP;
    FOR r IN
        SELECT p.oid::regprocedure AS fn
        FROM pg_proc p
        WHERE p.pronamespace = v_schema
          AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                      WHERE a.grantee = ANY(v_api))
    LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %s', r.fn, v_roles);
    END LOOP;
END
$lock$;
