-- Activity query "a customer's activity of the last 30 days, paginated" (page 3 of 50 rows),
-- legacy form: OFFSET pagination on the log, which has no customer index (a scan).
-- Read-only. Locks: ACCESS SHARE. Placeholders: {source}. Parameters: customer_id.
SELECT l.id::text AS activity_id, l.created_at AS sort_at, l.*
FROM {source} l
WHERE l.customer_id = %(customer_id)s
  AND l.created_at >= now() - interval '30 days'
ORDER BY l.created_at DESC, l.id DESC
LIMIT 50 OFFSET 100
