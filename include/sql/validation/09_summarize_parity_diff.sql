-- Summarize the temp table parity_diff: per check (kind) and field, the number of failing
-- rows, up to 5 example legacy ids (smallest first) and the rejection reasons seen.
-- Read-only. No placeholders.
SELECT d.kind AS check_name,
       coalesce(f.field, '') AS field,
       count(*) AS failures,
       (array_agg(d.legacy_key::text ORDER BY d.legacy_key))[1:5] AS examples,
       string_agg(DISTINCT d.reason, ', ') AS reasons
FROM parity_diff d
LEFT JOIN LATERAL unnest(d.fields) AS f(field) ON true
GROUP BY 1, 2
ORDER BY 1, 2
