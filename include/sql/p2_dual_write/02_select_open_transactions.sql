-- Transactions open in this database now, other than ours: (pid, virtual transaction id); the
-- drain before and after a swap of function bodies waits until those seen once have ended.
-- A transaction holds the lock on its own virtual xid from its start to its end, and pg_locks
-- shows those locks to every role (pg_stat_activity hides other roles' xact_start unless the
-- role has pg_read_all_stats, so a wait built on it would see nothing and return at once).
-- Autovacuum and other background workers (no user) run no application code: left out.
-- Read-only; idempotent. Locks: none (pg_locks and pg_stat_activity are views of shared
-- memory). No placeholder, no bound parameter.
SELECT l.pid, l.virtualxid
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'virtualxid' AND l.granted AND l.mode = 'ExclusiveLock'
  AND l.virtualxid = l.virtualtransaction AND l.pid <> pg_backend_pid()
  AND a.datname = current_database() AND a.usesysid IS NOT NULL
  AND coalesce(a.backend_type, 'client backend') = 'client backend'
