-- The mapping rules shared by publish_activity() and the backfill: one definition, in SQL.
-- Idempotent (CREATE OR REPLACE / IF NOT EXISTS). Locks: none on application tables.
-- Placeholders: {state} schema. Rule values (size limit, time range, pattern) are rows in
-- {state}.mapping_rules, written from include/config/migration.yaml by phase 1.

CREATE TABLE IF NOT EXISTS {state}.entity_categories (
    entity_type text PRIMARY KEY,
    category    text NOT NULL
);

CREATE TABLE IF NOT EXISTS {state}.mapping_rules (
    id                     boolean PRIMARY KEY DEFAULT true CHECK (id),   -- exactly one row
    payload_max_bytes      int      NOT NULL,
    occurred_at_min        timestamptz NOT NULL,
    occurred_at_max_future interval NOT NULL,
    event_type_pattern     text     NOT NULL
);
-- Added later: an event type (entity type + action) longer than this is rejected / quarantined
-- (a 5,000-character action must not become a 5,000-character event type).
ALTER TABLE {state}.mapping_rules ADD COLUMN IF NOT EXISTS event_type_max_length int NOT NULL DEFAULT 200;

-- Text as events store it: control characters (except tab, newline, carriage return) and
-- surrounding blanks removed, empty -> NULL (description, user agent; see mapping.py).
CREATE OR REPLACE FUNCTION {state}.sanitize_text(p_text text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT nullif(btrim(regexp_replace(p_text, '[\x01-\x08\x0B\x0C\x0E-\x1F\x7F]', '', 'g')), '')
$$;

-- Text -> inet, NULL where the cast would fail ('unknown', ''): for a legacy ip column of a
-- character type (mapping.py). A bad value must not fail a backfill chunk or, in dual write,
-- the application's own write; the backfill quarantines such a row (unconvertible_ip_address).
CREATE OR REPLACE FUNCTION {state}.to_inet_or_null(p_text text)
RETURNS inet LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p_text::inet;
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END
$$;

-- action + entity type -> event type: 'payment_plan' + 'Status Changed' -> 'payment_plan.status_changed'.
CREATE OR REPLACE FUNCTION {state}.event_type_for(p_entity_type text, p_action text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(regexp_replace(btrim(p_entity_type), '[^A-Za-z0-9_]+', '_', 'g'))
           || '.' ||
           lower(regexp_replace(btrim(p_action), '[^A-Za-z0-9_]+', '_', 'g'))
$$;

-- Why an event with these fields cannot be written, or NULL when it can.
-- Reasons are stable identifiers (the quarantine and the validation suites group by them).
-- p_action is the RAW legacy action the event type was derived from (activity_logs.action,
-- publish_activity's p_legacy_action), NULL when there is none: event_type_for() turns
-- control characters and U+FFFD in it into '_', so only the raw text shows broken input.
-- Every writer passes it: publish_activity (both forms), the backfill, the parity checks.
--
-- The five-argument form (before p_action existed) is dropped first: beside the six-argument
-- form with defaults, every call with four or five arguments would be ambiguous. Its only
-- dependents are the validation's parity views, which validation/01_create_parity_views.sql
-- recreates on every parity run (CASCADE drops them in this transaction; nothing else
-- depends on the function: plpgsql and SQL text callers re-resolve the name).
DROP FUNCTION IF EXISTS {state}.event_rejection_reason(text, text, jsonb, timestamptz, text) CASCADE;

CREATE OR REPLACE FUNCTION {state}.event_rejection_reason(
    p_event_type  text,
    p_entity_type text,
    p_payload     jsonb,
    p_occurred_at timestamptz,
    p_description text DEFAULT NULL,
    p_action      text DEFAULT NULL
) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_entity_type IS NULL OR btrim(p_entity_type) = ''        THEN 'null_entity_type'
        WHEN p_event_type IS NULL OR btrim(p_event_type) = ''          THEN 'null_event_type'
        WHEN p_occurred_at IS NULL                                      THEN 'null_occurred_at'
        WHEN p_payload IS NOT NULL AND jsonb_typeof(p_payload) <> 'object' THEN 'payload_not_object'
        WHEN p_payload IS NOT NULL AND octet_length(p_payload::text) > r.payload_max_bytes THEN 'payload_too_large'
        WHEN NOT EXISTS (SELECT 1 FROM {state}.entity_categories c WHERE c.entity_type = p_entity_type)
                                                                        THEN 'unknown_entity_type'
        WHEN p_occurred_at < r.occurred_at_min
          OR p_occurred_at > now() + r.occurred_at_max_future           THEN 'occurred_at_out_of_range'
        WHEN p_event_type ~ '[[:cntrl:]]' OR p_entity_type ~ '[[:cntrl:]]'
          OR coalesce(p_description, '') ~ '[\x01-\x08\x0B\x0C\x0E-\x1F\x7F\uFFFD]'
          OR coalesce(p_action, '') ~ '[\x01-\x1F\x7F\uFFFD]'
          OR coalesce(p_payload::text, '') ~ '\uFFFD|\\u0000'           THEN 'broken_text'
        WHEN length(p_event_type) > r.event_type_max_length             THEN 'event_type_too_long'
        WHEN p_event_type !~ r.event_type_pattern                       THEN 'invalid_event_type'
        ELSE NULL
    END
    FROM {state}.mapping_rules r
$$;
