-- Record one pending chunk [lo, hi) in the chunk ledger (planning, or the remainder of a
-- split chunk, in the splitting chunk's transaction). Not idempotent on its own: the
-- planner writes a plan only when none exists (or on replan), in one transaction.
-- Locks: ROW EXCLUSIVE on {state}.backfill_chunks. Placeholders: {state}. Parameters: lo, hi.
INSERT INTO {state}.backfill_chunks (lo, hi, status) VALUES (%(lo)s, %(hi)s, 'pending')
RETURNING chunk_id;
