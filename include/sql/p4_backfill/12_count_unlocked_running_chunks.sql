-- Running chunks whose row is NOT locked right now: a live worker holds the row lock of the
-- chunk it copies, so running chunks minus this count are being copied at this moment.
-- The row locks taken here are released at the end of the caller's transaction.
-- Not a write; idempotent. Locks: briefly row locks on unlocked running chunks (SKIP LOCKED, never waits).
-- Placeholders: the chunk ledger table. Parameters: none.
SELECT count(*)
  FROM (SELECT 1 FROM {chunks} WHERE status = 'running' FOR UPDATE SKIP LOCKED) t
