-- The first column of a table that a no-op UPDATE may set to itself (not dropped, generated or
-- identity): the verify probe fires the UPDATE triggers with it. Read-only; idempotent.
-- Locks: none (catalog reads). Bound (positional): the table's quoted qualified name (regclass
-- text). No placeholder.
SELECT attname FROM pg_attribute
WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
  AND attidentity = ''
ORDER BY attnum LIMIT 1
