-- Whole-table counts (every scope): source rows, unresolved quarantined rows, linked events.
-- Read-only (index-only scans where the visibility map allows). Placeholders: {state}, {src}, {events}.
SELECT (SELECT count(*) FROM {src})                                             AS source_rows,
       (SELECT count(*) FROM {state}.quarantine WHERE resolved_at IS NULL)      AS quarantined_rows,
       (SELECT count(*) FROM {events} WHERE legacy_activity_log_id IS NOT NULL) AS event_rows
