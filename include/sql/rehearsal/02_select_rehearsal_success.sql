-- The newest successful staging run of one phase step at one project version that finished
-- within the allowed age (the server's clock); in mode normal only, unless normal-only is false.
-- Read-only, idempotent. Locks: ACCESS SHARE on the ledger table.
-- Placeholder: ledger, the state schema's phase_ledger table.
-- Parameters (named): phase, step, project_version, max_age_secs (the allowed age in seconds),
-- normal_only (boolean: only a mode-normal run counts).
SELECT *
FROM {ledger}
WHERE phase = %(phase)s AND step = %(step)s AND environment = 'staging' AND status = 'succeeded'
  AND project_version = %(project_version)s
  AND coalesce(finished_at, started_at) >= now() - make_interval(secs => %(max_age_secs)s)
  AND (mode = 'normal' OR NOT %(normal_only)s)
ORDER BY coalesce(finished_at, started_at) DESC, id DESC
LIMIT 1
