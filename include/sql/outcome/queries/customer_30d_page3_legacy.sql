-- Activity query "a customer's activity of the last 30 days, paginated" (page 3 of 50 rows),
-- legacy form: OFFSET pagination on the log, which has no customer index (a scan).
-- Read-only. Locks: ACCESS SHARE. Placeholders: {source} and the columns the config maps (c_ + event field). Parameters: customer_id.
SELECT l.{c_key}::text AS activity_id, l.{c_occurred_at} AS sort_at, l.*
FROM {source} l
WHERE l.{c_customer_id} = %(customer_id)s
  AND l.{c_occurred_at} >= now() - interval '30 days'
ORDER BY l.{c_occurred_at} DESC, l.{c_key} DESC
LIMIT 50 OFFSET 100
