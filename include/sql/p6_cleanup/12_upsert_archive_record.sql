-- Record the archive of the legacy table in the state schema's archives (a re-archive under
-- the same name starts its record afresh: no rows, checksum, restore or deletion yet).
-- Idempotent. Locks: row lock on the archives row; runs in the archive's transaction.
-- Placeholder: state, the state schema. Bound (named): name, source_table, unlinked_since,
-- retention_days, access (jsonb: the privileges taken from the table).
INSERT INTO {state}.archives (name, source_table, unlinked_since, retention_days, access)
VALUES (%(name)s, %(source_table)s, %(unlinked_since)s, %(retention_days)s, %(access)s)
ON CONFLICT (name) DO UPDATE
   SET source_table = EXCLUDED.source_table, rows = NULL, checksum = NULL,
       unlinked_since = EXCLUDED.unlinked_since, created_at = clock_timestamp(),
       retention_days = EXCLUDED.retention_days, restored_at = NULL, deleted_at = NULL,
       deleted_by = NULL, access = EXCLUDED.access
