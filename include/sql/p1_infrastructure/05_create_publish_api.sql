-- Create the write API the application calls: publish_activity() and the helpers for the
-- seeds' common patterns (auth events, batch operations, entity changes), and the two rules
-- they apply to a caller who is not the service (docs/security.md):
--   * {state}.is_service_caller(role): the service (service_role, a superuser, or a server
--     role that is neither anon nor authenticated) may use the full signature (act for a
--     user, date an event, choose the source 'service' or 'backfill'; any other value is
--     rejected by the shared rules, SQLSTATE 22023);
--   * anyone else publishes only as themselves: actor = auth.uid() (signed in), source
--     'service', occurred_at = now(), no legacy action, and a customer only when
--     {state}.customer_allowed(customer, actor) holds (the config's security.customer_check;
--     none configured = a user may not name a customer). A call that breaks a rule raises
--     SQLSTATE 42501 naming the rule; nothing is written, nothing is quarantined.
-- The caller is the role the request runs as: the `role` setting (PostgREST sets it per
-- request with SET ROLE), else the login role. A SECURITY DEFINER function changes
-- current_user but not that setting, and only a session allowed to become a role can set it.
-- The legacy triggers never come here: they call {state}.publish_activity_internal, which
-- no API role may execute. The source 'trigger' is theirs alone.
-- Grants: none here; privileges.py revokes from PUBLIC and each API role, then grants
-- exactly its list, in the same transaction.
-- Idempotent (CREATE OR REPLACE). Locks: none on application tables (pg_proc rows).
-- Placeholders: {state}, {fn_schema} schema of the API functions (the target schema),
-- "publish_header" the shared function header (common/publish_function_header.sql), {customer_check} a boolean SQL expression over $1
-- (customer id) and $2 (actor id), `false` when the config sets none.

CREATE OR REPLACE FUNCTION {state}.is_service_caller(p_role name)
RETURNS boolean LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = p_role), false)
        OR pg_has_role(p_role, 'service_role', 'USAGE')
        OR NOT (pg_has_role(p_role, 'authenticated', 'USAGE') OR pg_has_role(p_role, 'anon', 'USAGE'))
$$;

CREATE OR REPLACE FUNCTION {state}.customer_allowed(p_customer_id uuid, p_actor_id uuid)
RETURNS boolean LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(({customer_check}), false)
$$;

{publish_header}
AS $$
-- activity-migration p1_infrastructure: publish_activity (API)
DECLARE
    v_caller name := CASE WHEN current_setting('role') = 'none' THEN session_user
                          ELSE current_setting('role')::name END;
    v_uid    uuid;
    v_rule   text;
BEGIN
    IF NOT {state}.is_service_caller(v_caller) THEN
        v_uid := auth.uid();
        v_rule := CASE
            WHEN v_uid IS NULL                         THEN 'not_signed_in'
            WHEN p_actor_id IS DISTINCT FROM v_uid     THEN 'actor_not_caller'
            WHEN p_source IS DISTINCT FROM 'service'   THEN 'source_not_service'
            WHEN p_occurred_at IS DISTINCT FROM now()  THEN 'occurred_at_not_now'
            WHEN p_legacy_action IS NOT NULL           THEN 'legacy_action_not_allowed'
            WHEN p_customer_id IS NOT NULL AND NOT {state}.customer_allowed(p_customer_id, v_uid)
                                                       THEN 'customer_not_allowed'
        END;
        IF v_rule IS NOT NULL THEN
            RAISE EXCEPTION 'publish_activity refused: %', v_rule
                USING ERRCODE = '42501',
                      DETAIL = format('caller role %s (auth.uid() %s) may publish only as itself: actor_id = auth.uid(), '
                                      'source service, occurred_at now(), a customer it belongs to; got actor %s, '
                                      'source %L, occurred_at %s, customer %s',
                                      v_caller, coalesce(v_uid::text, 'NULL'), coalesce(p_actor_id::text, 'NULL'),
                                      p_source, p_occurred_at, coalesce(p_customer_id::text, 'NULL')),
                      HINT = 'Server-side code that acts for users calls publish_activity as service_role.';
        END IF;
    ELSIF p_source = 'trigger' THEN
        RAISE EXCEPTION 'publish_activity refused: source_not_allowed'
            USING ERRCODE = '42501',
                  DETAIL = 'the source trigger is reserved to the legacy triggers'' internal path (the API '
                           'accepts service and backfill)';
    END IF;
    RETURN {state}.publish_activity_internal(
        p_event_type, p_entity_type, p_entity_id, p_payload, p_actor_id, p_customer_id, p_description,
        p_source, p_occurred_at, p_ip_address, p_user_agent, p_legacy_action);
END
$$;

COMMENT ON FUNCTION {fn_schema}.publish_activity(text, text, text, jsonb, uuid, uuid, text, text, timestamptz, inet, text, text)
    IS 'The one way to write an activity event (activity-migration). Callers other than the service publish only as themselves (SQLSTATE 42501 otherwise); bad events raise SQLSTATE 22023.';

-- Authentication events (login, logout, password_reset, ...): seed 001 logAuthEvent.
-- The helpers are SECURITY DEFINER only to reach {state}.event_type_for (API roles have no
-- USAGE on the state schema); publish_activity still applies the caller's rules to them, since
-- it judges the request's role, not current_user (a user logs only their own events).
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

-- Which side logs a table's activity, for the application to read after its write:
-- 'trigger' (a legacy trigger does: publish nothing) or 'application' (publish the event
-- yourself). Phase 5 hands a tier's tables over before dropping their triggers
-- (settings key publishers: table -> trigger | handover | application; handover reads as
-- application, the trigger still logs and the pair gives one event). Unknown table: 'trigger'.
-- SECURITY DEFINER (API roles have no USAGE on the state schema), fixed search_path.
CREATE OR REPLACE FUNCTION {fn_schema}.activity_publisher(p_table text)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE WHEN (SELECT s.value ->> p_table FROM {state}.settings s WHERE s.key = 'publishers')
                     IN ('handover', 'application') THEN 'application' ELSE 'trigger' END
$fn$;
