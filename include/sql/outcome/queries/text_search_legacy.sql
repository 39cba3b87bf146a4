-- Activity query "text search" (latest 50 entries whose description has the word), legacy form:
-- full-text match computed row by row on the log (it has no search index).
-- Read-only. Locks: ACCESS SHARE. Placeholders: {source}. Parameters: term.
SELECT l.id::text AS activity_id, l.created_at AS sort_at, l.*
FROM {source} l
WHERE to_tsvector('simple'::regconfig, coalesce(l.description, '')) @@ plainto_tsquery('simple'::regconfig, %(term)s)
ORDER BY l.created_at DESC, l.id DESC
LIMIT 50
