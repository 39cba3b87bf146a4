-- The legacy functions the cleanup backed up that still exist (publish_activity, also backed
-- up, left out): what the cleanup drops. Read only; idempotent. Locks: none beyond ACCESS
-- SHARE. Placeholder: state, the state schema. Bound (named): phase, publish (the
-- publish_activity signature).
SELECT identity
FROM {state}.ddl_backups
WHERE phase = %(phase)s AND object_type = 'function' AND identity <> %(publish)s
  AND to_regprocedure(identity) IS NOT NULL
