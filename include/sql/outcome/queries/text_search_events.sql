-- Activity query "text search" (latest 50 entries whose description has the word), new form:
-- phase 1's GIN index over description and payload strings finds the candidates; the second
-- condition keeps the legacy meaning (the description only). Read-only. Locks: ACCESS SHARE.
-- Placeholders: {events}. Parameters: term.
SELECT coalesce(e.legacy_activity_log_id::text, e.id::text) AS activity_id, e.occurred_at AS sort_at, e.*
FROM {events} e
WHERE (to_tsvector('simple'::regconfig, coalesce(e.description, ''))
       || jsonb_to_tsvector('simple'::regconfig, e.payload, '["string"]'::jsonb))
      @@ plainto_tsquery('simple'::regconfig, %(term)s)
  AND to_tsvector('simple'::regconfig, coalesce(e.description, '')) @@ plainto_tsquery('simple'::regconfig, %(term)s)
ORDER BY e.occurred_at DESC, e.id DESC
LIMIT 50
