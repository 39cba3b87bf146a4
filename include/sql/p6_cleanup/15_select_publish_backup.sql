-- The cleanup's backup of publish_activity (its dual-write definition), for the rollback.
-- Read only; idempotent. Locks: none beyond ACCESS SHARE. Placeholder: state, the state
-- schema. Bound (named): phase, publish (the publish_activity signature).
SELECT definition
FROM {state}.ddl_backups
WHERE phase = %(phase)s AND object_type = 'function' AND identity = %(publish)s
