-- Inside the chunk's copy transaction: lock the claimed chunk row for the whole copy and
-- check the claim is still ours (a stale-lease reclaim by another worker makes it not ours).
-- Idempotent. Locks: a row lock on one {state}.backfill_chunks row (under the caller's lock_timeout).
-- Placeholders: {state}. Parameters: chunk_id, worker.
SELECT chunk_id, lo, hi
  FROM {state}.backfill_chunks
 WHERE chunk_id = %(chunk_id)s AND status = 'running' AND claimed_by = %(worker)s
   FOR UPDATE;
