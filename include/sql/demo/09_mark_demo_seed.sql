-- Mark this database as one the demo seeder created, so a later seed may add history to
-- it (and a database without the mark, which is not empty, is refused).
-- Idempotent. Locks: none that matter (a comment on schema auth).

COMMENT ON SCHEMA auth IS 'activity-migration demo seed v1';
