-- Cumulative calls and execution time of INSERT/UPDATE/DELETE statements in this database
-- (pg_stat_statements; only called when the extension is installed and loaded). The
-- caller assigns statements to tables by their text. Our own probe statements carry the
-- comment "activity-migration probe" and are left out.
-- Read-only. Locks: none.
SELECT s.queryid::text AS queryid, s.query, sum(s.calls)::bigint AS calls,
       sum(s.total_exec_time)::double precision AS total_ms
FROM pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.query ~* '^\s*(/\*.*?\*/\s*)*(with\s.*)?(insert\s+into|update|delete\s+from)\s'
  AND s.query NOT LIKE '%%activity-migration probe%%'
GROUP BY s.queryid, s.query
