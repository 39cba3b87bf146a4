-- Fill the mapping rules from the config: entity categories (types the config no longer lists
-- are removed, changed categories updated, nothing rewritten that did not change) and the one
-- row of rules. Idempotent (an unchanged config changes no row). Locks: row locks on our own
-- tables only. Placeholder {state}. Bound (named): types and categories (text[], same order),
-- payload_max_bytes, occurred_at_min, occurred_at_max_future, event_type_pattern,
-- event_type_max_length. One statement per execute (the caller splits them: a statement with
-- parameters travels alone; no placeholder in a comment, psycopg would fill it too).
DELETE FROM {state}.entity_categories WHERE NOT (entity_type = ANY(%(types)s::text[]));

INSERT INTO {state}.entity_categories (entity_type, category)
SELECT t.entity_type, t.category FROM unnest(%(types)s::text[], %(categories)s::text[]) AS t(entity_type, category)
ON CONFLICT (entity_type) DO UPDATE SET category = EXCLUDED.category
WHERE entity_categories.category IS DISTINCT FROM EXCLUDED.category;

INSERT INTO {state}.mapping_rules (id, payload_max_bytes, occurred_at_min, occurred_at_max_future, event_type_pattern,
                                   event_type_max_length)
VALUES (true, %(payload_max_bytes)s, %(occurred_at_min)s::timestamptz, %(occurred_at_max_future)s::interval,
        %(event_type_pattern)s, %(event_type_max_length)s)
ON CONFLICT (id) DO UPDATE SET payload_max_bytes = EXCLUDED.payload_max_bytes,
    occurred_at_min = EXCLUDED.occurred_at_min, occurred_at_max_future = EXCLUDED.occurred_at_max_future,
    event_type_pattern = EXCLUDED.event_type_pattern, event_type_max_length = EXCLUDED.event_type_max_length
WHERE (mapping_rules.payload_max_bytes, mapping_rules.occurred_at_min, mapping_rules.occurred_at_max_future,
       mapping_rules.event_type_pattern, mapping_rules.event_type_max_length)
      IS DISTINCT FROM (EXCLUDED.payload_max_bytes, EXCLUDED.occurred_at_min, EXCLUDED.occurred_at_max_future,
                        EXCLUDED.event_type_pattern, EXCLUDED.event_type_max_length);
