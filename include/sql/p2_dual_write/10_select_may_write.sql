-- Whether one role can reach the internal writer already: superuser, or USAGE on the state
-- schema and EXECUTE on the writer. No row for a role that does not exist.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Bound (named): state (schema name), writer (regprocedure text), role. No placeholder.
SELECT r.rolsuper OR (has_schema_privilege(r.oid, %(state)s, 'USAGE')
                      AND has_function_privilege(r.oid, to_regprocedure(%(writer)s), 'EXECUTE')) AS ok
FROM pg_roles r WHERE r.rolname = %(role)s
