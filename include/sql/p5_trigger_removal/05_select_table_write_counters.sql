-- Cumulative write counters of the given tables (pg_stat_user_tables) and the server clock.
-- Read-only. Locks: none. Parameters (named): schemas, tables (parallel arrays).
-- n_tup_ins/upd/del include rows of rolled-back transactions (a rolled-back probe, an
-- application's failed transaction); n_mod_since_analyze counts committed changes only (an
-- aborted transaction adds none) but restarts at every ANALYZE: analyzes says when. All of
-- them reach the view up to ~1 s late (backends flush their statistics when idle).
SELECT s.schemaname AS schema_name, s.relname AS table_name,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del,
       s.n_mod_since_analyze, s.analyze_count + s.autoanalyze_count AS analyzes,
       clock_timestamp() AS at
FROM pg_stat_user_tables s
JOIN unnest(%(schemas)s::text[], %(tables)s::text[]) AS w(schema_name, table_name)
  ON w.schema_name = s.schemaname AND w.table_name = s.relname
ORDER BY 1, 2
