-- The source key column's type as format_type shows it (uuid, bigint, integer, smallint):
-- the parity collection keys its temp tables and casts on it.
-- Read-only catalog query (no lock on application tables). Idempotent.
-- Bound parameters, in order: the source table's qualified name (quoted, as to_regclass
-- reads it) and the key column's name. No placeholders.
SELECT format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a
 WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped
