-- Create the event-type registry in the state schema: one row per event type, either
-- registered (by phase 1 from the legacy mapping, or by a person with the CLI) or only seen
-- in events. Registration, category, description and label template are kept by the
-- registering side; first seen, last seen and the count by the set-based recount
-- (03_recount_event_types.sql, run by the nightly check), never by publish_activity: the
-- write path takes no lock on this table.
-- Idempotent (IF NOT EXISTS). Locks: none on application tables (a table of the state
-- schema; the caller locks the schema down afterwards). Placeholder: "state", the state
-- schema (quoted identifier).

CREATE TABLE IF NOT EXISTS {state}.event_types (
    event_type     text        PRIMARY KEY,
    category       text,                       -- the category of its entity type (config categories)
    description    text,
    registered_by  text,                       -- NULL: seen in events, never registered
    registered_at  timestamptz,
    label_template text,                       -- the feed's label (config event_types.labels), NULL: shown raw
    first_seen     timestamptz,                -- min(occurred_at) of its events, as of counted_at
    last_seen      timestamptz,                -- max(occurred_at)
    event_count    bigint      NOT NULL DEFAULT 0,
    counted_at     timestamptz                 -- the snapshot time of the last recount
);
