-- Activity query "a user's latest 50 activities", legacy form: the application's own query on the
-- trigger-filled log (index (user_id, created_at)). activity_id identifies the activity across
-- both forms. Read-only. Locks: ACCESS SHARE. Placeholders: {source}. Parameters: user_id.
SELECT l.id::text AS activity_id, l.created_at AS sort_at, l.*
FROM {source} l
WHERE l.user_id = %(user_id)s
ORDER BY l.created_at DESC
LIMIT 50
