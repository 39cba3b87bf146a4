-- The tables whose rows rehearsal-copy copies: ordinary and partitioned tables (not the
-- partitions, not temporary tables, not extension members) of the given schemas, with their
-- stored columns in order (generated columns left out) and the planner's row estimate.
-- Read-only, idempotent. Locks: none (catalog read).
-- No placeholders. Parameter (named): schemas, the application schema names (text array).
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind, c.reltuples::bigint AS estimate,
       array(SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
             ORDER BY a.attnum) AS columns
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence <> 't'
  AND n.nspname = ANY(%(schemas)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
