-- Activity API "my latest 50 activities" as the signed-in user's request runs it (role
-- authenticated, request.jwt.claims set by the caller; RLS: own rows), legacy form on the log.
-- Read-only. Locks: ACCESS SHARE. Placeholders: {source}. No parameters.
SELECT l.id::text AS activity_id, l.created_at AS sort_at, l.*
FROM {source} l
ORDER BY l.created_at DESC
LIMIT 50
