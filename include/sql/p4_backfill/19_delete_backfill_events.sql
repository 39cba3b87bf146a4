-- Rollback: delete the events the backfill wrote (source 'backfill') whose legacy id lies in
-- one chunk range [lo, hi) (a NULL bound is open); the unique legacy-id index finds them.
-- Events of the dual write (source 'trigger' or 'service') are never touched.
-- Idempotent (a second run deletes nothing). Locks: ROW EXCLUSIVE on the events table and
-- row locks on the deleted rows; run in one short transaction per chunk.
-- Placeholders: the events table, the legacy-id column, the key type. Parameters: lo, hi.
DELETE FROM {events} e
 WHERE e.source = 'backfill'
   AND (%(lo)s::text IS NULL OR e.{key} >= %(lo)s::text::{key_type})
   AND (%(hi)s::text IS NULL OR e.{key} < %(hi)s::text::{key_type})
