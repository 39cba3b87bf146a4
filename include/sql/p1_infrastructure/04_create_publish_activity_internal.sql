-- Create {state}.publish_activity_internal() in its phase-1 form (writes events only): the
-- one writer behind publish_activity (the API, 05_create_publish_api.sql) and, from phase 2
-- on, behind the rewritten legacy triggers. It trusts its arguments (source, actor, time), so
-- no API role may execute it: it lives in the state schema (no USAGE for API roles) and its
-- grants are revoked from PUBLIC and each API role by name (privileges.py; Supabase's default
-- privileges would otherwise grant them EXECUTE). Only the migration's own paths quarantine:
-- here a rejected event always raises.
-- Idempotent (CREATE OR REPLACE; the same text gives the same catalog entry). Locks: none on
-- application tables (pg_proc row). Placeholders: "declare_inputs", "check_source" and
-- "raise_rejected" the pieces shared with the dual-write form (common/publish_*.sql), {state} state schema, {events} qualified
-- target table, "publish_header" the shared function header (common/publish_function_header.sql).
-- Phase 2 replaces this body with the dual-write form (p2_dual_write/01); phase 1 re-runs
-- skip it while dual write is on, phase 6 puts this form back.

{publish_header}
AS $$
-- activity-migration p1_infrastructure: publish_activity (events only)
DECLARE
{declare_inputs}
    v_reason      text;
    v_id          uuid;
BEGIN
{check_source}
    -- The shared rules, on the raw legacy action too (p_legacy_action; NULL for the application).
    v_reason := {state}.event_rejection_reason(v_event_type, v_entity_type, v_payload, p_occurred_at, v_description,
                                               p_legacy_action);
    IF v_reason IS NOT NULL THEN
{raise_rejected}
    END IF;
    INSERT INTO {events} (event_type, category, actor_id, customer_id, entity_type, entity_id, description,
                          payload, source, ip_address, user_agent, occurred_at)
    VALUES (v_event_type,
            (SELECT c.category FROM {state}.entity_categories c WHERE c.entity_type = v_entity_type),
            p_actor_id, p_customer_id, v_entity_type, btrim(p_entity_id), v_description,
            v_payload, p_source, p_ip_address, {state}.sanitize_text(p_user_agent), p_occurred_at)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
