-- The planner's row estimate of the source table (pg_class.reltuples; negative when the
-- table was never analysed, no row when it does not exist).
-- Read-only; idempotent. Locks: none (catalog reads).
-- Placeholders: none. Parameters (positional): source schema, source table.
SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %s AND c.relname = %s
