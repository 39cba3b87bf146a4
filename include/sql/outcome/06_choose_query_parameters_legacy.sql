-- Choose the parameters of the activity read queries from the legacy log's data: the most active
-- user, the customer with the most activity in the last 30 days, the entity with the longest
-- history, and a search word (a word of 5+ letters of the descriptions, as close as possible to
-- 1 percent of a 5000-row sample: selective but not rare). Runs once (the choice is stored and reused, so
-- every sample measures the same thing). Read-only; scans the log once per figure (about a second
-- per million rows). Locks: ACCESS SHARE on {source}. Placeholders: {source}, and the source columns the config maps
-- (c_ and the event field: c_actor_id, c_customer_id, c_entity_type, c_entity_id, c_description,
-- c_occurred_at).
WITH words AS (
    SELECT w, count(*) AS n
    FROM (SELECT {c_description} AS description FROM {source} WHERE {c_description} IS NOT NULL LIMIT 5000) s,
         regexp_split_to_table(lower(s.description::text), '[^a-z]+') AS w
    WHERE length(w) >= 5
    GROUP BY w
)
SELECT (SELECT {c_actor_id} FROM {source} WHERE {c_actor_id} IS NOT NULL
        GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1) AS user_id,
       (SELECT {c_customer_id} FROM {source}
         WHERE {c_customer_id} IS NOT NULL AND {c_occurred_at} >= now() - interval '30 days'
        GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1) AS customer_id,
       e.entity_type, e.entity_id,
       (SELECT w FROM words ORDER BY abs(n - 50), w LIMIT 1) AS term
FROM (SELECT {c_entity_type} AS entity_type, {c_entity_id} AS entity_id FROM {source} WHERE {c_entity_id} IS NOT NULL
      GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1) e
