-- The status page: the newest ledger rows, each with the approver of its run's phase (the actor
-- of the newest approval row of the same run and phase at or before it), so rows written by a
-- gated step name the person who let it run.
-- Read-only. Idempotent. Placeholder: ledger, the phase_ledger table (schema-qualified).
-- Parameter: the number of rows (positional).
SELECT l.id, l.phase, l.step, l.status, l.environment, l.mode, l.actor, l.dag_run_id, l.started_at,
       l.finished_at, a.actor AS approved_by, a.status AS approval_status
  FROM {ledger} l
  LEFT JOIN LATERAL (
        SELECT g.actor, g.status
          FROM {ledger} g
         WHERE g.phase = l.phase AND g.dag_run_id = l.dag_run_id AND g.step LIKE '%%\_approval'
           AND g.id <= l.id
         ORDER BY g.id DESC
         LIMIT 1) a ON true
 ORDER BY l.id DESC
 LIMIT %s
