-- The privileges others hold on a table (its owner aside), table-level and per column, in the
-- order of the ACL: what phase 6 revokes from the archived legacy table (an archive of personal
-- data readable by nobody but the owner) and its rollback grants again, in the same order, so
-- the restored table's ACL prints as before. Also whether row-level security was on.
-- Read only; idempotent. Locks: none (catalog reads). Bound: %(table)s qualified table name.
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END AS grantee,
       a.privilege_type AS privilege, a.is_grantable AS grantable, NULL::text AS column_name,
       0 AS attnum, a.ord
FROM pg_class c, aclexplode(c.relacl) WITH ORDINALITY AS a(grantor, grantee, privilege_type, is_grantable, ord)
WHERE c.oid = to_regclass(%(table)s) AND a.grantee <> c.relowner
UNION ALL
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
       a.privilege_type, a.is_grantable, att.attname::text, att.attnum, a.ord
FROM pg_class c
JOIN pg_attribute att ON att.attrelid = c.oid AND att.attacl IS NOT NULL AND NOT att.attisdropped,
     aclexplode(att.attacl) WITH ORDINALITY AS a(grantor, grantee, privilege_type, is_grantable, ord)
WHERE c.oid = to_regclass(%(table)s) AND a.grantee <> c.relowner
ORDER BY attnum, ord;
