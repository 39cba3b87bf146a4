-- The newest ledger row of every phase and step recorded with one environment, with the first
-- start of that step (for the side-by-side rehearsal report).
-- Read-only, idempotent. Locks: ACCESS SHARE on the ledger table.
-- Placeholder: ledger, the state schema's phase_ledger table.
-- Parameter (positional): the environment (staging or production).
SELECT DISTINCT ON (phase, step) phase, step, status, project_version, mode,
       coalesce(finished_at, started_at) AS at, id,
       min(started_at) OVER (PARTITION BY phase, step) AS first_at
FROM {ledger} WHERE environment = %s ORDER BY phase, step, id DESC
