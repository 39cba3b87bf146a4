-- How many rows the incremental scope covered (for the recorded statistics): source rows
-- created since %(since)s or in the sampled key range, and events created since %(since)s
-- or linked into that range. Read-only. Placeholders: {state}, {src}, {events}, {key},
-- {created_at}, {key_type}.
SELECT (SELECT count(*) FROM {src} s
        WHERE s.{created_at} >= %(since)s
           OR (s.{key} >= CAST(%(lo)s AS {key_type})
               AND (CAST(%(hi)s AS {key_type}) IS NULL OR s.{key} < CAST(%(hi)s AS {key_type})))) AS source_rows,
       (SELECT count(*) FROM {events} e
        WHERE e.legacy_activity_log_id IS NOT NULL
          AND (e.created_at >= %(since)s
               OR (e.legacy_activity_log_id >= CAST(%(lo)s AS {key_type})
                   AND (CAST(%(hi)s AS {key_type}) IS NULL OR e.legacy_activity_log_id < CAST(%(hi)s AS {key_type}))))) AS event_rows,
       (SELECT count(*) FROM {src} s
        WHERE s.{key} >= CAST(%(lo)s AS {key_type})
          AND (CAST(%(hi)s AS {key_type}) IS NULL OR s.{key} < CAST(%(hi)s AS {key_type}))) AS sampled_source_rows
