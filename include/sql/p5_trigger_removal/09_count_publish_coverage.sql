-- Phase 5 handover: per entity type, the writes a legacy trigger logged in a time window and how
-- many of them the application also published in the same transaction (the pair gives one event
-- and a row in {state}.publish_confirmations; see p2_dual_write/01). A write counts once whether
-- the trigger or the application came first. Committed rows only: a rolled-back write left
-- neither an event nor a confirmation.
-- Read only; idempotent. Locks: none beyond ACCESS SHARE. Placeholders: {events}, {state}.
-- Bound: %(types)s text[] entity types, %(from)s / %(to)s the window (event created_at, which is
-- the writing transaction's start; the validation's events(created_at) index serves it).
SELECT e.entity_type,
       count(*)::bigint                      AS writes,
       count(c.event_id)::bigint             AS covered
FROM {events} e
LEFT JOIN {state}.publish_confirmations c ON c.event_id = e.id
WHERE e.entity_type = ANY(%(types)s)
  AND e.created_at >= %(from)s AND e.created_at < %(to)s
  AND (e.source = 'trigger' OR c.confirmed_by = 'trigger')
GROUP BY e.entity_type
ORDER BY e.entity_type;
