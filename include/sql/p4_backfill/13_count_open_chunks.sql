-- Pending or running chunks nobody holds right now (a chunk of a dead worker, or one just
-- claimed and not yet locked): zero means every chunk is done, failed or being copied.
-- Not a write; idempotent. Locks: briefly row locks on those chunks (SKIP LOCKED, never waits),
-- released when the caller's short transaction ends.
-- Placeholders: the chunk ledger table. Parameters: none.
SELECT count(*)
  FROM (SELECT 1 FROM {chunks} WHERE status IN ('pending', 'running') FOR UPDATE SKIP LOCKED) t
