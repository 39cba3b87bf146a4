-- Activity query "a user's latest 50 activities", new form on events (index (actor_id,
-- occurred_at DESC)). activity_id: the legacy id where the event has one, else the event id.
-- Read-only. Locks: ACCESS SHARE. Placeholders: {events}. Parameters: user_id.
SELECT coalesce(e.legacy_activity_log_id::text, e.id::text) AS activity_id, e.occurred_at AS sort_at, e.*
FROM {events} e
WHERE e.actor_id = %(user_id)s
ORDER BY e.occurred_at DESC, e.id DESC
LIMIT 50
