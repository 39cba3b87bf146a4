-- Cumulative cost of the application's writes and publish calls in this database, from
-- pg_stat_statements (only called when the extension is installed and loaded): calls, execution
-- time, WAL bytes and shared blocks (hit + read + dirtied + written) per normalized statement.
-- With pg_stat_statements.track = top (the default) a statement's figures include the row
-- triggers it fires. The caller assigns the writes to tables by their text; publish marks the
-- application's own publish_activity calls. Our probe statements are left out.
-- Read-only. Locks: none. No placeholders or parameters.
SELECT s.queryid::text AS queryid, s.query,
       s.query ~* '^\s*select\s+(public\.)?publish_activity\s*\(' AS publish,
       sum(s.calls)::bigint AS calls,
       sum(s.total_exec_time)::double precision AS total_ms,
       sum(s.wal_bytes)::double precision AS wal_bytes,
       sum(s.shared_blks_hit + s.shared_blks_read + s.shared_blks_dirtied + s.shared_blks_written)::bigint
           AS shared_blocks
FROM pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND (s.query ~* '^\s*(/\*.*?\*/\s*)*(with\s.*)?(insert\s+into|update|delete\s+from)\s'
       OR s.query ~* '^\s*select\s+(public\.)?publish_activity\s*\(')
  AND s.query NOT LIKE '%%activity-migration probe%%'
GROUP BY s.queryid, s.query
