-- Every role the copied objects name: owners of the schemas and their relations, functions
-- and types, grantees of their privileges (columns included), policy roles, default
-- privileges and publication owners; with the INHERIT and BYPASSRLS flags to copy.
-- Built-in roles (names starting pg_) are left out.
-- Read-only, idempotent. Locks: none (catalog read).
-- No placeholders. Parameter (named): schemas, the application schema names (text array).
-- Executed with parameters, so the LIKE percent sign is doubled below.
WITH nsp AS (SELECT oid FROM pg_namespace WHERE nspname = ANY(%(schemas)s)),
refs AS (
    SELECT nspowner AS r FROM pg_namespace WHERE oid IN (SELECT oid FROM nsp)
    UNION SELECT relowner FROM pg_class WHERE relnamespace IN (SELECT oid FROM nsp)
    UNION SELECT proowner FROM pg_proc WHERE pronamespace IN (SELECT oid FROM nsp)
    UNION SELECT typowner FROM pg_type WHERE typnamespace IN (SELECT oid FROM nsp)
    UNION SELECT (aclexplode(nspacl)).grantee FROM pg_namespace WHERE oid IN (SELECT oid FROM nsp) AND nspacl IS NOT NULL
    UNION SELECT (aclexplode(relacl)).grantee FROM pg_class WHERE relnamespace IN (SELECT oid FROM nsp) AND relacl IS NOT NULL
    UNION SELECT (aclexplode(proacl)).grantee FROM pg_proc WHERE pronamespace IN (SELECT oid FROM nsp) AND proacl IS NOT NULL
    UNION SELECT (aclexplode(typacl)).grantee FROM pg_type WHERE typnamespace IN (SELECT oid FROM nsp) AND typacl IS NOT NULL
    UNION SELECT (aclexplode(a.attacl)).grantee FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          WHERE c.relnamespace IN (SELECT oid FROM nsp) AND a.attacl IS NOT NULL
    UNION SELECT unnest(p.polroles) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
          WHERE c.relnamespace IN (SELECT oid FROM nsp)
    UNION SELECT defaclrole FROM pg_default_acl
    UNION SELECT (aclexplode(defaclacl)).grantee FROM pg_default_acl
    UNION SELECT pubowner FROM pg_publication
)
SELECT rolname, rolinherit, rolbypassrls
FROM pg_roles WHERE oid IN (SELECT r FROM refs) AND rolname NOT LIKE 'pg\_%%'
ORDER BY rolname
