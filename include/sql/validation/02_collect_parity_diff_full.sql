-- Collect every parity difference (full scope) in ONE pass: a FULL JOIN of the mapped
-- source (v_parity_source) and the linked events, keeping only rows that differ:
-- missing (source without event), orphan (event without source), mismatch (fields differ).
-- Writes into the session's temp table parity_diff (created by the runner). Read-only on
-- application tables (AccessShare). Idempotent. Placeholders: {state}, {events}.
INSERT INTO parity_diff (kind, legacy_key, fields)
SELECT CASE WHEN s.legacy_id IS NULL THEN 'orphan'
            WHEN e.legacy_activity_log_id IS NULL THEN 'missing'
            ELSE 'mismatch' END,
       coalesce(s.legacy_id, e.legacy_activity_log_id),
       CASE WHEN s.legacy_id IS NOT NULL AND e.legacy_activity_log_id IS NOT NULL THEN
       array_remove(ARRAY[
           CASE WHEN e.actor_id    IS DISTINCT FROM s.actor_id    THEN 'actor_id' END,
           CASE WHEN e.customer_id IS DISTINCT FROM s.customer_id THEN 'customer_id' END,
           CASE WHEN e.event_type  IS DISTINCT FROM s.event_type  THEN 'event_type' END,
           CASE WHEN e.entity_type IS DISTINCT FROM s.entity_type THEN 'entity_type' END,
           CASE WHEN e.entity_id   IS DISTINCT FROM s.entity_id   THEN 'entity_id' END,
           CASE WHEN e.description IS DISTINCT FROM s.description THEN 'description' END,
           CASE WHEN e.payload     IS DISTINCT FROM s.payload     THEN 'payload' END,
           CASE WHEN e.ip_address  IS DISTINCT FROM s.ip_address  THEN 'ip_address' END,
           CASE WHEN e.user_agent  IS DISTINCT FROM s.user_agent  THEN 'user_agent' END,
           CASE WHEN e.occurred_at IS DISTINCT FROM s.occurred_at THEN 'occurred_at' END
       ], NULL) END
FROM {state}.v_parity_source s
FULL JOIN (SELECT * FROM {events} WHERE legacy_activity_log_id IS NOT NULL) e
       ON e.legacy_activity_log_id = s.legacy_id
WHERE s.legacy_id IS NULL OR e.legacy_activity_log_id IS NULL
   OR e.actor_id    IS DISTINCT FROM s.actor_id
   OR e.customer_id IS DISTINCT FROM s.customer_id
   OR e.event_type  IS DISTINCT FROM s.event_type
   OR e.entity_type IS DISTINCT FROM s.entity_type
   OR e.entity_id   IS DISTINCT FROM s.entity_id
   OR e.description IS DISTINCT FROM s.description
   OR e.payload     IS DISTINCT FROM s.payload
   OR e.ip_address  IS DISTINCT FROM s.ip_address
   OR e.user_agent  IS DISTINCT FROM s.user_agent
   OR e.occurred_at IS DISTINCT FROM s.occurred_at
