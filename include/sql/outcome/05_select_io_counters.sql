-- Cumulative I/O counters for the per-write figures when pg_stat_statements is missing: shared
-- blocks touched (hit + read) on the given tables and their indexes (pg_statio_user_tables), and
-- the WAL the whole cluster wrote (pg_stat_wal, Postgres 14+; NULL before). pg_stat_wal counts
-- every database on the server: the caller says so next to the figure.
-- Read-only. Locks: none. Parameters: schemas, tables (parallel arrays).
SELECT coalesce(sum(coalesce(s.heap_blks_hit, 0) + coalesce(s.heap_blks_read, 0)
                    + coalesce(s.idx_blks_hit, 0) + coalesce(s.idx_blks_read, 0)), 0)::bigint AS shared_blocks,
       (SELECT w.wal_bytes::double precision FROM pg_stat_wal w) AS wal_bytes,
       clock_timestamp() AS at
FROM pg_statio_user_tables s
JOIN unnest(%(schemas)s::text[], %(tables)s::text[]) AS w(schema_name, table_name)
  ON w.schema_name = s.schemaname AND w.table_name = s.relname
