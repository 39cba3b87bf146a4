-- Create publish_activity() (phase-1 form: writes public.events only) and the helper
-- functions for the seeds' common patterns (auth events, batch operations, entity changes).
-- Idempotent (CREATE OR REPLACE; the same text gives the same catalog entry). Locks: none on
-- application tables (pg_proc rows only). Placeholders: {state} state schema, {events}
-- qualified target table, {fn_schema} schema of the functions (the target schema).
-- Phase 2 replaces publish_activity's body with the dual-write form (05 of p2_dual_write);
-- phase 1 re-runs skip publish_activity while dual write is on (see p1_infrastructure.py).

CREATE OR REPLACE FUNCTION {fn_schema}.publish_activity(
    p_event_type    text,
    p_entity_type   text,
    p_entity_id     text        DEFAULT NULL,
    p_payload       jsonb       DEFAULT '{}'::jsonb,
    p_actor_id      uuid        DEFAULT auth.uid(),
    p_customer_id   uuid        DEFAULT NULL,
    p_description   text        DEFAULT NULL,
    p_source        text        DEFAULT 'service',
    p_occurred_at   timestamptz DEFAULT now(),
    p_ip_address    inet        DEFAULT NULL,
    p_user_agent    text        DEFAULT NULL,
    p_legacy_action text        DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
-- activity-migration p1_infrastructure: publish_activity (events only)
DECLARE
    v_event_type  text  := btrim(p_event_type);
    v_entity_type text  := btrim(p_entity_type);
    v_description text  := {state}.sanitize_text(p_description);
    v_payload     jsonb := coalesce(p_payload, '{}'::jsonb);
    v_reason      text;
    v_id          uuid;
BEGIN
    IF p_source IS NULL OR p_source NOT IN ('trigger', 'service', 'backfill') THEN
        RAISE EXCEPTION 'publish_activity rejected the event: invalid_source'
            USING ERRCODE = '22023',
                  DETAIL = format('p_source must be trigger, service or backfill, got %L', p_source);
    END IF;
    -- The shared rules, on the raw legacy action too (p_legacy_action; NULL for the application).
    v_reason := {state}.event_rejection_reason(v_event_type, v_entity_type, v_payload, p_occurred_at, v_description,
                                               p_legacy_action);
    IF v_reason IS NOT NULL THEN
        RAISE EXCEPTION 'publish_activity rejected the event: %', v_reason
            USING ERRCODE = '22023',
                  DETAIL = format('reason=%s event_type=%L entity_type=%L occurred_at=%L payload_bytes=%s',
                                  v_reason, left(p_event_type, 200), left(p_entity_type, 200), p_occurred_at,
                                  octet_length(v_payload::text)),
                  HINT = 'event types look like entity.action (lower case), entity types must be listed in '
                         'the migration config categories, payload must be a JSON object within the size limit';
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

COMMENT ON FUNCTION {fn_schema}.publish_activity(text, text, text, jsonb, uuid, uuid, text, text, timestamptz, inet, text, text)
    IS 'The one way to write an activity event (activity-migration). Validates with the shared mapping rules; raises SQLSTATE 22023 on bad input.';

-- Authentication events (login, logout, password_reset, ...): seed 001 logAuthEvent.
CREATE OR REPLACE FUNCTION {fn_schema}.publish_auth_event(
    p_action     text,
    p_user_id    uuid,
    p_ip         inet    DEFAULT NULL,
    p_user_agent text    DEFAULT NULL,
    p_success    boolean DEFAULT true
) RETURNS uuid
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT {fn_schema}.publish_activity(
        p_event_type  => {state}.event_type_for('auth', p_action),
        p_entity_type => 'auth',
        p_entity_id   => p_user_id::text,
        p_payload     => jsonb_build_object('success', coalesce(p_success, true)),
        p_actor_id    => p_user_id,
        p_description => format('%s %s', btrim(p_action), CASE WHEN coalesce(p_success, true) THEN 'succeeded' ELSE 'failed' END),
        p_ip_address  => p_ip,
        p_user_agent  => p_user_agent)
$$;

-- Batch operations (imports, bulk updates): one event for the batch, seed 001 withBatchLogging.
CREATE OR REPLACE FUNCTION {fn_schema}.publish_batch_operation(
    p_operation   text,
    p_item_count  integer,
    p_actor_id    uuid  DEFAULT auth.uid(),
    p_details     jsonb DEFAULT '{}'::jsonb,
    p_customer_id uuid  DEFAULT NULL
) RETURNS uuid
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT {fn_schema}.publish_activity(
        p_event_type  => {state}.event_type_for('bulk_operation', p_operation),
        p_entity_type => 'bulk_operation',
        p_payload     => coalesce(p_details, '{}'::jsonb) || jsonb_build_object('operation', p_operation, 'item_count', p_item_count),
        p_actor_id    => p_actor_id,
        p_customer_id => p_customer_id,
        p_description => format('%s (%s items)', btrim(p_operation), p_item_count))
$$;

-- Entity changes: the event carries the changed fields with their old and new values.
CREATE OR REPLACE FUNCTION {fn_schema}.publish_entity_change(
    p_entity_type text,
    p_entity_id   text,
    p_action      text,
    p_old         jsonb DEFAULT NULL,
    p_new         jsonb DEFAULT NULL,
    p_actor_id    uuid  DEFAULT auth.uid(),
    p_customer_id uuid  DEFAULT NULL
) RETURNS uuid
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH keys AS (
        SELECT k FROM jsonb_object_keys(coalesce(p_old, '{}'::jsonb)) k
        UNION
        SELECT k FROM jsonb_object_keys(coalesce(p_new, '{}'::jsonb)) k
    ), changed AS (
        SELECT k FROM keys WHERE (p_old -> k) IS DISTINCT FROM (p_new -> k)
    )
    SELECT {fn_schema}.publish_activity(
        p_event_type  => {state}.event_type_for(p_entity_type, p_action),
        p_entity_type => p_entity_type,
        p_entity_id   => p_entity_id,
        p_payload     => jsonb_build_object(
            'changed_fields', coalesce((SELECT jsonb_agg(k ORDER BY k) FROM changed), '[]'::jsonb),
            'old', coalesce((SELECT jsonb_object_agg(k, p_old -> k) FROM changed WHERE p_old ? k), '{}'::jsonb),
            'new', coalesce((SELECT jsonb_object_agg(k, p_new -> k) FROM changed WHERE p_new ? k), '{}'::jsonb)),
        p_actor_id    => p_actor_id,
        p_customer_id => p_customer_id)
$$;

-- Only signed-in users and the service may publish; anon may not.
REVOKE ALL ON FUNCTION {fn_schema}.publish_activity(text, text, text, jsonb, uuid, uuid, text, text, timestamptz, inet, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION {fn_schema}.publish_auth_event(text, uuid, inet, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION {fn_schema}.publish_batch_operation(text, integer, uuid, jsonb, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION {fn_schema}.publish_entity_change(text, text, text, jsonb, jsonb, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {fn_schema}.publish_activity(text, text, text, jsonb, uuid, uuid, text, text, timestamptz, inet, text, text) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION {fn_schema}.publish_auth_event(text, uuid, inet, text, boolean) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION {fn_schema}.publish_batch_operation(text, integer, uuid, jsonb, uuid) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION {fn_schema}.publish_entity_change(text, text, text, jsonb, jsonb, uuid, uuid) TO authenticated, service_role;
