-- The functions phases 2 and 5 backed up (the legacy trigger functions they replaced or whose
-- triggers they dropped), by identity. Read only; idempotent. Locks: none beyond ACCESS SHARE.
-- Placeholder: state, the state schema. No bound parameters.
SELECT DISTINCT identity
FROM {state}.ddl_backups
WHERE phase IN ('p2_dual_write', 'p5_trigger_removal')
  AND object_type = 'function'
