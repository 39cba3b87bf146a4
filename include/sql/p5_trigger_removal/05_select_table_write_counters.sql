-- Cumulative write counters of the given tables (pg_stat_user_tables) and the server clock.
-- Read-only. Locks: none. Parameters: %(schemas)s, %(tables)s (parallel arrays).
-- Counters include rolled-back tuples and reach the view up to ~1 s late (backends flush
-- their statistics when idle): windows must be long compared to that, and our own probe
-- must not run inside a window that counts application writes.
SELECT s.schemaname AS schema_name, s.relname AS table_name,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del,
       clock_timestamp() AS at
FROM pg_stat_user_tables s
JOIN unnest(%(schemas)s::text[], %(tables)s::text[]) AS w(schema_name, table_name)
  ON w.schema_name = s.schemaname AND w.table_name = s.relname
ORDER BY 1, 2
