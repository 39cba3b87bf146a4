-- Mark a chunk done with its counts, in the same transaction as its copy.
-- Idempotent (sets fixed values). Locks: the chunk row (already locked by this transaction).
-- Placeholders: {state}. Parameters: chunk_id, rows_copied, rows_quarantined, hi.
UPDATE {state}.backfill_chunks
   SET status = 'done', rows_copied = %(rows_copied)s, rows_quarantined = %(rows_quarantined)s,
       hi = %(hi)s, finished_at = clock_timestamp(), last_error = NULL
 WHERE chunk_id = %(chunk_id)s;
