-- Every approval decision in the ledger: who, when, given / skipped (demo) / rejected.
-- Read-only. Locks: none. Placeholders: {state} state schema.
SELECT phase, step, status, mode, environment, actor, coalesce(finished_at, started_at) AS decided_at
FROM {state}.phase_ledger
WHERE step LIKE '%%approval' AND status IN ('succeeded', 'skipped', 'rejected')
ORDER BY id
