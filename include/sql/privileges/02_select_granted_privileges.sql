-- Every privilege held on an object the migration owns by anyone but the object's owner: the
-- state schema and everything in it (relations, their columns, functions), and the API
-- objects the migration created in application schemas (named by the caller). The privilege
-- audit compares these rows with the grant list of privileges.py; an absent ACL is read as
-- the default Postgres applies (acldefault: a function's default grants EXECUTE to PUBLIC).
-- Read only; idempotent. Locks: none (catalog reads).
-- Bound: %(state)s schema name, %(relations)s text[] of qualified relations,
-- %(functions)s text[] of regprocedure texts (names that do not exist are skipped).
-- Objects are named as quote_ident prints them: schema.name, schema.name(argument types).
-- Rows: object, kind, grantee ('PUBLIC' for 0), privilege, grantable; plus one row with
-- privilege 'ROW LEVEL SECURITY OFF' per state table without RLS (grantee NULL).
WITH state AS (
    SELECT n.oid, n.nspname, n.nspowner, n.nspacl FROM pg_namespace n WHERE n.nspname = %(state)s
), rels AS (
    SELECT c.oid, format('%%I.%%I', c.relnamespace::regnamespace::text, c.relname) AS object, c.relkind, c.relowner, c.relacl, c.relrowsecurity,
           c.relnamespace = (SELECT oid FROM state) AS in_state
    FROM pg_class c
    WHERE (c.relnamespace = (SELECT oid FROM state) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f'))
       OR c.oid = ANY(ARRAY(SELECT to_regclass(x) FROM unnest(%(relations)s::text[]) x WHERE to_regclass(x) IS NOT NULL))
), funcs AS (
    SELECT p.oid, format('%%I.%%I(%%s)', p.pronamespace::regnamespace::text, p.proname, oidvectortypes(p.proargtypes)) AS object, p.proowner, p.proacl
    FROM pg_proc p
    WHERE p.pronamespace = (SELECT oid FROM state)
       OR p.oid = ANY(ARRAY(SELECT to_regprocedure(x) FROM unnest(%(functions)s::text[]) x
                            WHERE to_regprocedure(x) IS NOT NULL))
), acl AS (
    SELECT format('%%I', s.nspname) AS object, 'schema' AS kind, s.nspowner AS owner,
           (aclexplode(coalesce(s.nspacl, acldefault('n', s.nspowner)))).*
    FROM state s
    UNION ALL
    SELECT r.object, CASE r.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                    ELSE 'table' END, r.relowner,
           (aclexplode(coalesce(r.relacl, acldefault(CASE WHEN r.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                                     r.relowner)))).*
    FROM rels r
    UNION ALL
    SELECT r.object || '.' || quote_ident(a.attname), 'column', r.relowner, (aclexplode(a.attacl)).*
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attacl IS NOT NULL AND NOT a.attisdropped
    UNION ALL
    SELECT f.object, 'function', f.proowner, (aclexplode(coalesce(f.proacl, acldefault('f', f.proowner)))).*
    FROM funcs f
)
SELECT a.object, a.kind, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END AS grantee,
       a.privilege_type AS privilege, a.is_grantable AS grantable
FROM acl a
WHERE a.grantee <> a.owner
UNION ALL
SELECT r.object, 'table', NULL, 'ROW LEVEL SECURITY OFF', false
FROM rels r
WHERE r.in_state AND r.relkind IN ('r', 'p') AND NOT r.relrowsecurity
ORDER BY 1, 3, 4;
