-- The row-level security policies of the legacy table as the catalog prints them (phase 1
-- carries them over to events): name, permissive, command, roles (quoted; 'public' for 0),
-- USING and WITH CHECK expressions. Read-only; idempotent. Locks: none (catalog reads).
-- Bound (positional): the legacy table's quoted qualified name. No placeholder.
SELECT p.polname AS name, p.polpermissive AS permissive,
       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE'
                     ELSE 'ALL' END AS command,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END
             FROM unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
FROM pg_policy p WHERE p.polrelid = to_regclass(%s)
ORDER BY p.polname
