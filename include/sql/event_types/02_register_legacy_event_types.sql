-- Register every event type the legacy log produces, as the backfill maps it: the distinct
-- (entity type, action) pairs of the source table through the state schema's event_type_for,
-- kept only where the mapping rules accept the type (the entity type has a category in the
-- config, the type matches the pattern and length limits). Several legacy spellings of one
-- action give one type; its description lists them.
-- Idempotent: a type registered before keeps its registration (who, when, description).
-- Locks: ACCESS SHARE on the source table (one scan: a hash aggregate of two columns);
-- row locks on the registry rows it upserts.
-- Placeholders: "state" the state schema, "source" the qualified source table, "entity_col"
-- and "action_col" its entity-type and action columns (quoted identifiers). Parameters:
-- "by" (who registers) and "labels" (jsonb: event type to label template).

INSERT INTO {state}.event_types AS r (event_type, category, description, registered_by, registered_at,
                                      label_template)
SELECT t.event_type, min(c.category),
       'produced by the legacy logging (actions: ' || left(string_agg(DISTINCT t.action, ', '), 500) || ')',
       %(by)s, now(), %(labels)s::jsonb ->> t.event_type
FROM (
    SELECT {state}.event_type_for(d.entity_type, d.action) AS event_type, btrim(d.entity_type) AS entity_type,
           d.action
    FROM (SELECT DISTINCT s.{entity_col}::text AS entity_type, s.{action_col}::text AS action
          FROM {source} s) d
    WHERE d.entity_type IS NOT NULL AND d.action IS NOT NULL
) t
JOIN {state}.entity_categories c ON c.entity_type = t.entity_type
WHERE {state}.event_rejection_reason(t.event_type, t.entity_type, '{}'::jsonb, now()) IS NULL
GROUP BY t.event_type
ON CONFLICT (event_type) DO UPDATE
    SET registered_by = EXCLUDED.registered_by, registered_at = EXCLUDED.registered_at,
        category = coalesce(r.category, EXCLUDED.category),
        description = coalesce(r.description, EXCLUDED.description),
        label_template = EXCLUDED.label_template
    WHERE r.registered_at IS NULL;
