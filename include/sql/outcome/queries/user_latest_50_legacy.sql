-- Activity query "a user's latest 50 activities", legacy form: the application's own query on the
-- trigger-filled log (index (user_id, created_at)). activity_id identifies the activity across
-- both forms. Read-only. Locks: ACCESS SHARE. Placeholders: {source} and the columns the config maps (c_ + event field). Parameters: user_id.
SELECT l.{c_key}::text AS activity_id, l.{c_occurred_at} AS sort_at, l.*
FROM {source} l
WHERE l.{c_actor_id} = %(user_id)s
ORDER BY l.{c_occurred_at} DESC
LIMIT 50
