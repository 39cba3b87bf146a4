-- Move the legacy table into the migration's schema under its archive name: metadata only
-- (no rows are copied), instant, and fully reversible (the same two statements backwards).
-- Policies, grants, indexes and the key sequence move with the table.
-- Not idempotent on its own: the caller checks the catalog first (public table present,
-- archive absent). Lock: ACCESS EXCLUSIVE on the table for the instant of the rename; run
-- under lock_timeout with retries, in the same transaction as the publish_activity switch.
-- Placeholders: {source} qualified legacy table, {state} state schema, {source_name} its
-- bare name, {archive_name} the archive's name.
ALTER TABLE {source} SET SCHEMA {state};
ALTER TABLE {state}.{source_name} RENAME TO {archive_name};
