-- Read parity: one page of public.event_feed as the current user, after the keyset cursor
-- (occurred_at and id of the previous page's last row; both null for the first page).
-- Read-only; idempotent. Locks: ACCESS SHARE on the events table (through the feed).
-- Placeholders: none. Parameters (positional): cursor timestamp, cursor id, page size.
SELECT id::text AS event_id, id AS raw_id, legacy_activity_log_id::text AS legacy_id,
       occurred_at AS ts, actor_id::text AS actor, event_type, entity_id
  FROM public.event_feed(p_before_occurred_at => %s, p_before_id => %s, p_page_size => %s)
