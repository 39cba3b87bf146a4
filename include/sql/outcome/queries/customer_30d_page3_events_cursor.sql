-- The keyset cursor of page 3 (the last row of page 2) for customer_30d_page3_events.sql: what the
-- application holds after showing page 2. Not timed. With fewer than 100 rows the cursor is
-- -infinity (page 3 is empty, as OFFSET 100 is). Read-only. Locks: ACCESS SHARE.
-- Placeholders: {events}. Parameters: customer_id.
SELECT coalesce(c.occurred_at, '-infinity'::timestamptz) AS before_occurred_at, c.id AS before_id
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT e.occurred_at, e.id FROM {events} e
    WHERE e.customer_id = %(customer_id)s AND e.occurred_at >= now() - interval '30 days'
    ORDER BY e.occurred_at DESC, e.id DESC
    OFFSET 99 LIMIT 1) c ON true
