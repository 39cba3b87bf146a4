-- Latency of the application's writes, cumulative: calls, total execution time (ms) and the
-- sum of squared execution times (from each statement's mean and stddev) of this database's
-- INSERT/UPDATE/DELETE statements in pg_stat_statements, leaving out statements naming the
-- migration's state schema (ours). The caller diffs two samples: window mean and stddev.
-- Read-only; idempotent. Locks: none. Needs pg_stat_statements installed and loaded.
-- Placeholders: none. Parameters: pattern (LIKE pattern matching the state schema's name).
SELECT coalesce(sum(calls), 0)::float8 AS calls,
       coalesce(sum(total_exec_time), 0)::float8 AS total_ms,
       coalesce(sum(calls * (stddev_exec_time ^ 2 + mean_exec_time ^ 2)), 0)::float8 AS sumsq
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND query ~* '^\s*(insert|update|delete)\s'
   AND query NOT LIKE %(pattern)s
