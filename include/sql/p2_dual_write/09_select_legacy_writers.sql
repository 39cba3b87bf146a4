-- Roles that may write the legacy table today (what a SECURITY INVOKER logging function needs),
-- the built-in pg_ roles left out. Read-only; idempotent. Locks: none (catalog reads).
-- Bound (named): source (the legacy table's qualified name). No placeholder.
SELECT r.rolname AS role FROM pg_roles r
WHERE has_table_privilege(r.oid, to_regclass(%(source)s), 'INSERT') AND r.rolname !~ '^pg_'
