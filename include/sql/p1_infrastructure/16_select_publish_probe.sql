-- Phase 1's verify probe: publish one event through publish_activity and return its id. Run in
-- a transaction the caller rolls back. Not idempotent on its own (writes an event; rolled back).
-- Locks: row locks of the insert into events (released by the rollback).
-- Placeholder publish: the publish_activity function (schema-qualified).
-- Bound (positional): event type, entity type, payload (jsonb text).
SELECT {publish}(p_event_type => %s, p_entity_type => %s, p_actor_id => NULL,
                 p_payload => %s::jsonb)
