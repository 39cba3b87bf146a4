-- Every chunk of the backfill plan, in chunk order, with its status and counts.
-- Read-only; idempotent. Locks: ACCESS SHARE on the chunk ledger.
-- Placeholders: the chunk ledger table (backfill_chunks of the state schema). Parameters: none.
SELECT chunk_id, lo, hi, status, attempts, rows_copied, rows_quarantined, started_at
  FROM {chunks}
 ORDER BY chunk_id
