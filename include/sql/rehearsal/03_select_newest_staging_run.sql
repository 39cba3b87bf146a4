-- The newest staging run of one phase step, whatever its status, version or mode, and whether
-- it is older than the allowed age (too_old): says why no run counted as the rehearsal.
-- Read-only, idempotent. Locks: ACCESS SHARE on the ledger table.
-- Placeholder: ledger, the state schema's phase_ledger table.
-- Parameters (named): max_age_secs (the allowed age in seconds), phase, step.
SELECT *, coalesce(finished_at, started_at) < now() - make_interval(secs => %(max_age_secs)s) AS too_old
FROM {ledger}
WHERE phase = %(phase)s AND step = %(step)s AND environment = 'staging'
ORDER BY id DESC
LIMIT 1
