-- {state}.publish_activity_internal in dual-write form: one call writes the legacy row (old
-- shape, so the old UI stays complete) and the event linked to it, in the caller's
-- transaction. Its callers: publish_activity (the API, which has applied the caller's rules)
-- and the rewritten legacy triggers (source 'trigger'); no API role may execute it.
-- Idempotent (CREATE OR REPLACE with the same text). Locks: none on application tables
-- (pg_proc row). Executed inside the phase-2 switch transaction, never on its own.
-- Placeholders: {state}, "publish_header" the shared function header, "declare_inputs",
-- "check_source" and "raise_rejected" the pieces shared with the events-only form, {events} target table,
-- {source} legacy table, {key}
-- its key column, {key_type} its type, {legacy_columns}/{legacy_values} the column mapping
-- from the config (values are the parameters cast to the columns' catalog types).
--
-- Calls from the rewritten legacy triggers (p_source = 'trigger') never fail because of the
-- migration: when the shared rules reject the event, the legacy row is written as before
-- and quarantined with the reason (zero loss: every legacy row has an event or a quarantine
-- row). Calls through the API (source service) are rejected with SQLSTATE 22023, as in phase 1,
-- and never quarantine: the API refuses the source 'trigger'. The application and a trigger
-- logging the same entity in one transaction give one event, confirmed ({state}.publish_confirmations).

{publish_header}
AS $$
-- activity-migration p2_dual_write: publish_activity (dual write)
DECLARE
{declare_inputs}
    v_action      text  := coalesce(p_legacy_action,
                                    CASE WHEN position('.' IN btrim(p_event_type)) > 0
                                         THEN substr(btrim(p_event_type), position('.' IN btrim(p_event_type)) + 1)
                                         ELSE btrim(p_event_type) END);
    v_reason      text;
    v_legacy_id   {key_type};
    v_id          uuid;
BEGIN
{check_source}
    -- The shared rules, on the raw legacy action too (the trigger's action before event_type_for()
    -- turned control characters into '_'), exactly as the backfill judges a legacy row.
    v_reason := {state}.event_rejection_reason(v_event_type, v_entity_type, v_payload, p_occurred_at, v_description,
                                               p_legacy_action);
    IF v_reason IS NOT NULL AND p_source <> 'trigger' THEN
{raise_rejected}
    END IF;

    -- Handover (phase 5): while a table's triggers still log, the application may already publish
    -- for it. The second of the two calls for the same entity in the same transaction (the
    -- application after its write's trigger, or a trigger after the application) writes nothing:
    -- it confirms its twin, which is how phase 5 measures that the application publishes.
    -- Same transaction = the same now() (subtransactions included); the (entity_type, entity_id)
    -- index finds the twin.
    IF v_reason IS NULL AND p_source IN ('service', 'trigger') AND p_entity_id IS NOT NULL THEN
        SELECT e.id INTO v_id
        FROM {events} e
        WHERE e.entity_type = v_entity_type AND e.entity_id = btrim(p_entity_id) AND e.created_at = now()
          AND e.source = CASE p_source WHEN 'service' THEN 'trigger' ELSE 'service' END
          AND NOT EXISTS (SELECT 1 FROM {state}.publish_confirmations c WHERE c.event_id = e.id)
        ORDER BY (e.event_type = v_event_type) DESC, e.id
        LIMIT 1;
        IF v_id IS NOT NULL THEN
            INSERT INTO {state}.publish_confirmations (event_id, entity_type, confirmed_by)
            VALUES (v_id, v_entity_type, p_source);
            RETURN v_id;
        END IF;
    END IF;

    INSERT INTO {source} ({legacy_columns}) VALUES ({legacy_values})
    RETURNING {key} INTO v_legacy_id;

    IF v_reason IS NOT NULL THEN
        INSERT INTO {state}.quarantine (legacy_id, reason, detail, original_row)
        SELECT v_legacy_id::text, v_reason, 'dual write: a legacy trigger logged a row the event rules reject',
               to_jsonb(l)
        FROM {source} l WHERE l.{key} = v_legacy_id
        ON CONFLICT (legacy_id) DO NOTHING;
        RETURN NULL;
    END IF;

    INSERT INTO {events} (event_type, category, actor_id, customer_id, entity_type, entity_id, description,
                          payload, source, legacy_activity_log_id, ip_address, user_agent, occurred_at)
    VALUES (v_event_type,
            (SELECT c.category FROM {state}.entity_categories c WHERE c.entity_type = v_entity_type),
            p_actor_id, p_customer_id, v_entity_type, btrim(p_entity_id), v_description,
            v_payload, p_source, v_legacy_id, p_ip_address, {state}.sanitize_text(p_user_agent), p_occurred_at)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
