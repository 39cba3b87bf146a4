-- Load signal: cumulative calls and total execution time (ms) of the INSERT/UPDATE/DELETE
-- statements of this database in pg_stat_statements, leaving out statements naming the
-- migration's state schema (ours). The caller diffs two samples.
-- Read-only; idempotent. Locks: none. Needs pg_stat_statements installed and loaded.
-- Placeholders: none. Parameters (positional): the LIKE pattern matching the state schema's name.
SELECT coalesce(sum(calls), 0)::float8, coalesce(sum(total_exec_time), 0)::float8
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND query ~* '^\s*(insert|update|delete)\s'
   AND query NOT LIKE %s
