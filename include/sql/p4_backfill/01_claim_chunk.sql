-- Claim one chunk of the backfill for a worker: the lowest pending chunk, or a 'running'
-- one whose claim is older than the lease (its worker died; a worker that is alive holds
-- the chunk's row lock while it copies, so SKIP LOCKED never hands a live chunk to another).
-- Idempotent per call: claims at most one row, commits on its own (short transaction).
-- Locks: a row lock on one {state}.backfill_chunks row; never waits (SKIP LOCKED).
-- Placeholders: {state}. Parameters: worker, lease_s.
UPDATE {state}.backfill_chunks AS c
   SET status     = 'running',
       claimed_by = %(worker)s,
       attempts   = c.attempts + 1,
       started_at = clock_timestamp()
 WHERE c.chunk_id = (
        SELECT chunk_id
          FROM {state}.backfill_chunks
         WHERE status = 'pending'
            OR (status = 'running' AND started_at < clock_timestamp() - make_interval(secs => %(lease_s)s))
         ORDER BY chunk_id
         FOR UPDATE SKIP LOCKED
         LIMIT 1)
RETURNING c.chunk_id, c.lo, c.hi, c.attempts;
