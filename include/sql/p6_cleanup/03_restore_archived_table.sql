-- Rollback of phase 6: put the archived table back as the legacy table. Metadata only,
-- instant; the compatibility view under the old name must be dropped first (same
-- transaction). Lock: ACCESS EXCLUSIVE on the archive for the instant of the rename, under
-- lock_timeout with retries. Placeholders: {state}, {archive_name}, {source_name},
-- {source_schema}.
ALTER TABLE {state}.{archive_name} RENAME TO {source_name};
ALTER TABLE {state}.{source_name} SET SCHEMA {source_schema};
