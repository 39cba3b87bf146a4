-- Insert or update one migration setting (key, jsonb value, when, by whom).
-- Idempotent (ON CONFLICT on the key updates the row). Locks: ROW EXCLUSIVE on the settings
-- table and a row lock on the setting's row.
-- Placeholder: settings, the state schema's settings table.
-- Parameters (named): key, value (jsonb), updated_by.
INSERT INTO {settings} (key, value, updated_at, updated_by)
VALUES (%(key)s, %(value)s, now(), %(updated_by)s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(), updated_by = EXCLUDED.updated_by
