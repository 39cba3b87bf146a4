-- Every outcome sample, oldest first (the report orders the migration by time).
-- Read-only. Locks: none. Placeholders: {samples}. Parameters: kinds (text[]; NULL: all).
SELECT id, sample_id::text AS sample_id, phase, point, tier, environment, kind, method, figures,
       project_version, dag_run_id, sampled_at
FROM {samples}
WHERE %(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s::text[])
ORDER BY sampled_at, id
