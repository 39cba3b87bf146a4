-- Create the keyset index the feed needs when no actor filter narrows it (service_role,
-- customer-wide views): (occurred_at DESC, id DESC), exactly the feed's sort order, so a
-- page is an index range scan that stops after page_size rows.
-- (The per-user case uses phase 1's (actor_id, occurred_at DESC) index through RLS.)
-- Idempotent (IF NOT EXISTS). Lock: CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE
-- on {events} only (writes continue); must run outside a transaction block.
-- Placeholders: {events} qualified target table, {index} index name.
CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON {events} (occurred_at DESC, id DESC);
