-- The policies on events now, as pg_policies prints them. Read-only; idempotent.
-- Locks: none (catalog reads). Bound (positional): the events table's schema, its name.
-- No placeholder.
SELECT policyname, permissive, roles::text[] AS roles, cmd, qual, with_check FROM pg_policies
WHERE schemaname = %s AND tablename = %s
