-- The replication slots that retain WAL for this database: every physical slot (they hold
-- WAL for the whole server) and the logical slots of the current database (Supabase
-- Realtime's among them), with the WAL each retains (from its restart_lsn), the part its
-- consumer has not confirmed yet (logical: from confirmed_flush_lsn), its wal_status, and the
-- cumulative decoding statistics of pg_stat_replication_slots (Postgres 14+).
-- Read-only. Locks: none (catalog views). No placeholders or parameters.

SELECT s.slot_name, s.slot_type, s.plugin, s.database, s.active, s.wal_status,
       s.safe_wal_size,
       pg_wal_lsn_diff(w.lsn, s.restart_lsn)::bigint AS retained_bytes,
       pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::bigint AS lag_bytes,
       st.spill_bytes, st.stream_bytes, st.total_txns, st.total_bytes
FROM pg_replication_slots s
CROSS JOIN (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                        ELSE pg_current_wal_lsn() END AS lsn) w
LEFT JOIN pg_stat_replication_slots st ON st.slot_name = s.slot_name
WHERE s.slot_type = 'physical' OR s.database = current_database()
ORDER BY retained_bytes DESC NULLS LAST, s.slot_name;
