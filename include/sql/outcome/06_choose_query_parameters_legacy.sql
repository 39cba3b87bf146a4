-- Choose the parameters of the activity read queries from the legacy log's data: the most active
-- user, the customer with the most activity in the last 30 days, the entity with the longest
-- history, and a search word (a word of 5+ letters of the descriptions, as close as possible to
-- 1 percent of a 5000-row sample: selective but not rare). Runs once (the choice is stored and reused, so
-- every sample measures the same thing). Read-only; scans the log once per figure (about a second
-- per million rows). Locks: ACCESS SHARE on {source}. Placeholders: {source}.
WITH words AS (
    SELECT w, count(*) AS n
    FROM (SELECT description FROM {source} WHERE description IS NOT NULL LIMIT 5000) s,
         regexp_split_to_table(lower(s.description), '[^a-z]+') AS w
    WHERE length(w) >= 5
    GROUP BY w
)
SELECT (SELECT user_id FROM {source} WHERE user_id IS NOT NULL
        GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1) AS user_id,
       (SELECT customer_id FROM {source} WHERE customer_id IS NOT NULL AND created_at >= now() - interval '30 days'
        GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1) AS customer_id,
       e.entity_type, e.entity_id,
       (SELECT w FROM words ORDER BY abs(n - 50), w LIMIT 1) AS term
FROM (SELECT entity_type, entity_id FROM {source} WHERE entity_id IS NOT NULL
      GROUP BY entity_type, entity_id ORDER BY count(*) DESC, entity_type, entity_id LIMIT 1) e
