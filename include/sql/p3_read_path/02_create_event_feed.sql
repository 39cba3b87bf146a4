-- Create public.event_feed(...): the keyset-paginated activity feed the new EventFeed reads.
-- SECURITY INVOKER (the default, stated): it runs as the caller, so the RLS policies of
-- {events} apply; an authenticated user sees only their own events.
-- Pagination: pass the (occurred_at, id) of the last row of the previous page as
-- (p_before_occurred_at, p_before_id); rows come in (occurred_at DESC, id DESC) order.
-- The query is built with only the active filters and run with EXECUTE ... USING (values
-- are bound, never pasted), so each call is planned for its own filters and uses the
-- matching index instead of a generic "col = $1 OR $1 IS NULL" plan.
-- Idempotent (CREATE OR REPLACE). Locks: none on application tables.
-- Placeholders: {events} qualified target table, {events_name} the same as a literal.
CREATE OR REPLACE FUNCTION public.event_feed(
    p_before_occurred_at timestamptz DEFAULT NULL,
    p_before_id          uuid        DEFAULT NULL,
    p_page_size          int         DEFAULT 50,
    p_customer_id        uuid        DEFAULT NULL,
    p_entity_type        text        DEFAULT NULL,
    p_entity_id          text        DEFAULT NULL,
    p_category           text        DEFAULT NULL
) RETURNS SETOF {events}
LANGUAGE plpgsql
STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    q text;
BEGIN
    IF p_page_size IS NULL OR p_page_size < 1 OR p_page_size > 200 THEN
        RAISE EXCEPTION 'event_feed: p_page_size must be between 1 and 200, got %', coalesce(p_page_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Ask for at most 200 rows and page on with p_before_occurred_at/p_before_id.';
    END IF;
    IF p_before_id IS NOT NULL AND p_before_occurred_at IS NULL THEN
        RAISE EXCEPTION 'event_feed: p_before_id needs p_before_occurred_at (the cursor is the last row''s occurred_at and id)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    q := format('SELECT e.* FROM %s e WHERE true', {events_name}::regclass);
    IF p_before_occurred_at IS NOT NULL THEN
        IF p_before_id IS NULL THEN
            q := q || ' AND e.occurred_at < $1';
        ELSE
            -- Written out (not a row comparison) so the occurred_at bound is an index condition.
            q := q || ' AND e.occurred_at <= $1 AND (e.occurred_at < $1 OR e.id < $2)';
        END IF;
    END IF;
    IF p_customer_id IS NOT NULL THEN q := q || ' AND e.customer_id = $4'; END IF;
    IF p_entity_type IS NOT NULL THEN q := q || ' AND e.entity_type = $5'; END IF;
    IF p_entity_id   IS NOT NULL THEN q := q || ' AND e.entity_id = $6'; END IF;
    IF p_category    IS NOT NULL THEN q := q || ' AND e.category = $7'; END IF;
    q := q || ' ORDER BY e.occurred_at DESC, e.id DESC LIMIT $3';

    RETURN QUERY EXECUTE q
        USING p_before_occurred_at, p_before_id, p_page_size, p_customer_id, p_entity_type, p_entity_id, p_category;
END
$fn$;

COMMENT ON FUNCTION public.event_feed(timestamptz, uuid, int, uuid, text, text, text) IS
    'activity-migration p3_read_path: keyset-paginated activity feed (occurred_at DESC, id DESC), runs as the caller (RLS applies); page size 1..200';
