-- What a migration did, in a few figures for a person: events linked to the legacy log,
-- history rows the backfill copied, quarantined rows by reason, approvals given and skipped.
-- Read-only. Locks: none (plain reads). Placeholders: state (the migration schema), events
-- (the events table, schema-qualified). No bound parameters.
SELECT
    (SELECT count(*) FROM {events} WHERE legacy_activity_log_id IS NOT NULL) AS events_linked,
    (SELECT count(*) FROM {events} WHERE legacy_activity_log_id IS NULL) AS events_published,
    (SELECT coalesce(sum(rows_copied), 0) FROM {state}.backfill_chunks) AS rows_backfilled,
    (SELECT count(*) FROM {state}.backfill_chunks WHERE status = 'done') AS chunks_done,
    (SELECT coalesce(jsonb_object_agg(reason, n), '{}'::jsonb)
       FROM (SELECT reason, count(*) AS n FROM {state}.quarantine GROUP BY reason) q) AS quarantined_by_reason,
    (SELECT count(*) FROM {state}.phase_ledger
      WHERE step LIKE '%_approval' AND status = 'skipped') AS approvals_skipped,
    (SELECT count(*) FROM {state}.phase_ledger
      WHERE step LIKE '%_approval' AND status = 'succeeded') AS approvals_given,
    (SELECT count(*) FROM {state}.phase_ledger
      WHERE step LIKE '%_approval' AND status = 'rejected') AS approvals_rejected
