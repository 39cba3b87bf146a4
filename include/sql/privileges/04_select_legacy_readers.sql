-- The API roles that may SELECT from the legacy table (one without row-level security gives
-- them the same on events). Read-only; idempotent. Locks: none (catalog reads).
-- Bound (positional): the legacy table's quoted qualified name. No placeholder.
SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')
  AND has_table_privilege(oid, to_regclass(%s), 'SELECT')
ORDER BY 1
