-- Drop what phase 3 created (its rollback), except the feed index (dropped CONCURRENTLY
-- separately) and the publication membership (handled from the ledger: only what phase 3 added).
-- Idempotent (IF EXISTS). Locks: brief ACCESS EXCLUSIVE on the view/functions only (not on
-- application tables). Placeholders: {view} qualified compat view name.
DROP VIEW IF EXISTS {view};
DROP FUNCTION IF EXISTS public.event_feed(timestamptz, uuid, int, uuid, text, text, text);
DROP FUNCTION IF EXISTS public.activity_read_source();
