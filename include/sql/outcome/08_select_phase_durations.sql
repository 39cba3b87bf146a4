-- How long each phase took: per phase, the sum over its runs (dag_run_id; ledger rows without a
-- run id count as one run) of the span from the run's first ledger row to its last finish.
-- Read-only. Locks: none. Placeholders: {state} state schema.
SELECT phase, count(*) AS runs, sum(seconds)::double precision AS seconds,
       min(first_at) AS first_at, max(last_at) AS last_at
FROM (SELECT phase, coalesce(dag_run_id, '') AS run, min(started_at) AS first_at,
             max(coalesce(finished_at, started_at)) AS last_at,
             extract(epoch FROM max(coalesce(finished_at, started_at)) - min(started_at)) AS seconds
      FROM {state}.phase_ledger
      WHERE phase IN ('p1_infrastructure', 'p2_dual_write', 'p3_read_path', 'p4_backfill', 'p5_trigger_removal',
                      'p6_cleanup')
      GROUP BY phase, coalesce(dag_run_id, '')) runs
GROUP BY phase
ORDER BY min(first_at)
