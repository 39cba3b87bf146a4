-- The cleanup's backups of the legacy functions (publish_activity left out), in the order
-- they were taken, for the rollback to recreate them. Read only; idempotent. Locks: none
-- beyond ACCESS SHARE. Placeholder: state, the state schema. Bound (named): phase, publish
-- (the publish_activity signature).
SELECT identity, definition
FROM {state}.ddl_backups
WHERE phase = %(phase)s AND object_type = 'function' AND identity <> %(publish)s
ORDER BY id
