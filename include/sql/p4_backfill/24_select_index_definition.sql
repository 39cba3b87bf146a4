-- One index of the events table as the catalog prints it (pg_get_indexdef) and whether it is
-- valid (a failed CREATE INDEX CONCURRENTLY leaves it INVALID); no row when it is missing.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters: index (the index's qualified, quoted name as text).
SELECT pg_get_indexdef(i.indexrelid) AS definition, i.indisvalid AS valid
  FROM pg_index i
 WHERE i.indexrelid = to_regclass(%(index)s)
