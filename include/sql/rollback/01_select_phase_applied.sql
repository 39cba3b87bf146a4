-- The ledger's view of whether a phase is applied: a succeeded step of the phase that changes
-- something (gates, approvals, preflights, checks and the like do not count) newer than the
-- phase's last succeeded rollback. Read only; idempotent. Locks: none beyond ACCESS SHARE.
-- Placeholder: state, the state schema (its phase_ledger). Bound (named): p, the phase.
SELECT EXISTS (
    SELECT 1 FROM {state}.phase_ledger l
    WHERE l.phase = %(p)s AND l.status = 'succeeded' AND l.step <> 'rollback'
      AND l.step !~ '(gate|approval|preflight|parity|check|evidence|verify|plan|baseline|audit)'
      AND l.id > coalesce((SELECT max(r.id) FROM {state}.phase_ledger r WHERE r.phase = %(p)s AND r.step = 'rollback'
                           AND r.status = 'succeeded'), 0))
