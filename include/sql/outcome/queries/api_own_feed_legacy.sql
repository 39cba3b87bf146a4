-- Activity API "my latest 50 activities" as the signed-in user's request runs it (role
-- authenticated, request.jwt.claims set by the caller; RLS: own rows), legacy form on the log.
-- Read-only. Locks: ACCESS SHARE. Placeholders: {source} and the columns the config maps (c_ + event field). No parameters.
SELECT l.{c_key}::text AS activity_id, l.{c_occurred_at} AS sort_at, l.*
FROM {source} l
ORDER BY l.{c_occurred_at} DESC
LIMIT 50
