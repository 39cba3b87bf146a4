-- Copy one key range of the legacy activity log into the events table, in one statement:
-- every source row in the range that has no event yet and is not quarantined is mapped with
-- the shared rules of publish_activity ({state}.event_type_for, {state}.entity_categories,
-- {state}.event_rejection_reason); a row the rules reject goes to {state}.quarantine with
-- its reason and the original row, every other row becomes an event with source 'backfill'.
-- The caller runs it in the chunk's transaction together with the chunk's 'done' mark, so a
-- kill leaves either nothing or everything of the chunk.
-- Idempotent: NOT EXISTS on events and quarantine, and ON CONFLICT DO NOTHING on both
-- unique keys (an event written meanwhile by the dual write is never copied twice).
-- Locks: ROW EXCLUSIVE on {events} and {state}.quarantine; ACCESS SHARE on the source.
-- Placeholders: identifiers, and the column expressions of activity_migration/mapping.py
-- (normalised as publish_activity writes events; {description_raw} for the rules;
-- {conversion_reason}: unconvertible_<field> for a value that does not convert, else NULL).
-- Parameters: lo, hi, chunk_id.
WITH mapped AS MATERIALIZED (
    SELECT s.{key}                                                    AS legacy_key,
           {state}.event_type_for({entity_type}, {action})            AS event_type,
           {entity_type}                                              AS entity_type,
           {action}                                                   AS action,
           {actor_id}                                                 AS actor_id,
           {customer_id}                                              AS customer_id,
           {entity_id}                                                AS entity_id,
           {description}                                              AS description,
           {description_raw}                                          AS description_raw,
           {metadata}                                                 AS payload,
           {ip_address}                                               AS ip_address,
           {user_agent}                                               AS user_agent,
           {occurred_at}                                              AS occurred_at,
           {conversion_reason}                                        AS conversion_reason
      FROM {source} AS s
     WHERE {range}
       AND NOT EXISTS (SELECT 1 FROM {events} AS e WHERE e.legacy_activity_log_id = s.{key})
       AND NOT EXISTS (SELECT 1 FROM {state}.quarantine AS q WHERE q.legacy_id = s.{key}::text)
),
judged AS MATERIALIZED (
    SELECT m.*,
           -- a value that did not convert (mapping.py) first; then the rules, on the raw action
           -- too: event_type_for() turned its control characters into '_'.
           coalesce(m.conversion_reason,
                    {state}.event_rejection_reason(m.event_type, m.entity_type, m.payload, m.occurred_at,
                                                   m.description_raw, m.action)) AS reason
      FROM mapped AS m
),
quarantined AS (
    INSERT INTO {state}.quarantine (legacy_id, reason, detail, original_row, chunk_id)
    SELECT j.legacy_key::text, j.reason,
           'backfill: rejected by ' || j.reason || ' (event_type ' || coalesce(j.event_type, 'NULL') || ')',
           to_jsonb(s), %(chunk_id)s
      FROM judged AS j
      JOIN {source} AS s ON s.{key} = j.legacy_key
     WHERE j.reason IS NOT NULL
    ON CONFLICT (legacy_id) DO NOTHING
    RETURNING 1
),
copied AS (
    INSERT INTO {events} (event_type, category, actor_id, customer_id, entity_type, entity_id, description,
                          payload, source, legacy_activity_log_id, ip_address, user_agent, occurred_at)
    SELECT j.event_type, c.category, j.actor_id, j.customer_id, j.entity_type, j.entity_id, j.description,
           j.payload, 'backfill', j.legacy_key, j.ip_address, j.user_agent, j.occurred_at
      FROM judged AS j
      JOIN {state}.entity_categories AS c ON c.entity_type = j.entity_type
     WHERE j.reason IS NULL
    ON CONFLICT (legacy_activity_log_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM copied) AS rows_copied,
       (SELECT count(*) FROM quarantined) AS rows_quarantined;
