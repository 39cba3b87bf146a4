-- The same choice as 06_choose_query_parameters_legacy.sql, from the events table: for a database
-- whose legacy log is already gone when the first sample is taken (events hold the history).
-- Read-only. Locks: ACCESS SHARE on {events}. Placeholders: {events}.
WITH words AS (
    SELECT w, count(*) AS n
    FROM (SELECT description FROM {events} WHERE description IS NOT NULL LIMIT 5000) s,
         regexp_split_to_table(lower(s.description), '[^a-z]+') AS w
    WHERE length(w) >= 5
    GROUP BY w
)
SELECT (SELECT actor_id FROM {events} WHERE actor_id IS NOT NULL
        GROUP BY actor_id ORDER BY count(*) DESC, actor_id LIMIT 1) AS user_id,
       (SELECT customer_id FROM {events} WHERE customer_id IS NOT NULL AND occurred_at >= now() - interval '30 days'
        GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1) AS customer_id,
       e.entity_type, e.entity_id,
       (SELECT w FROM words ORDER BY abs(n - 50), w LIMIT 1) AS term
FROM (SELECT entity_type, entity_id FROM {events} WHERE entity_id IS NOT NULL
      GROUP BY entity_type, entity_id ORDER BY count(*) DESC, entity_type, entity_id LIMIT 1) e
