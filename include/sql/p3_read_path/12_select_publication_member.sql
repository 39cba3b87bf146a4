-- Whether a table is in a publication: one row when it is, none otherwise.
-- Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters (positional): publication name, table schema, table name.
SELECT 1
  FROM pg_publication_tables
 WHERE pubname = %s AND schemaname = %s AND tablename = %s
