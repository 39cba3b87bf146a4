-- Activity query "text search" (latest 50 entries whose description has the word), legacy form:
-- full-text match computed row by row on the log (it has no search index).
-- Read-only. Locks: ACCESS SHARE. Placeholders: {source} and the columns the config maps (c_ + event field). Parameters: term.
SELECT l.{c_key}::text AS activity_id, l.{c_occurred_at} AS sort_at, l.*
FROM {source} l
WHERE to_tsvector('simple'::regconfig, coalesce(l.{c_description}::text, '')) @@ plainto_tsquery('simple'::regconfig, %(term)s)
ORDER BY l.{c_occurred_at} DESC, l.{c_key} DESC
LIMIT 50
