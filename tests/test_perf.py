"""The write probe on schemas unlike the demo: NOT NULL columns without defaults, RLS without a
policy for the probe role, empty tables. The probe must still measure (another form, another
role) or say why it could not, and entity types must still be observed, not guessed."""

from __future__ import annotations

import psycopg

import foreign_app
from activity_migration import perf
from activity_migration.config import parse_config

STRICT = """
CREATE TABLE public.strict_notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL,
                                  org_id uuid, CHECK (length(body) > 0));
ALTER TABLE public.strict_notes ENABLE ROW LEVEL SECURITY;      -- no policy at all: only the owner writes
CREATE FUNCTION public.log_strict_note() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM public.record_activity(lower(TG_OP), 'note', coalesce(NEW.id, OLD.id)::text, NULL, '{}');
  RETURN NULL;
END $f$;
CREATE TRIGGER strict_notes_log AFTER INSERT OR UPDATE OR DELETE ON public.strict_notes
    FOR EACH ROW EXECUTE FUNCTION public.log_strict_note();
INSERT INTO public.strict_notes (body) VALUES ('first');
CREATE TABLE public.empty_strict (id int PRIMARY KEY, body text NOT NULL);
"""


def test_probe_falls_back_to_an_update_and_the_owner_and_reports_what_it_cannot_write(fresh_db):
    foreign_app.create(fresh_db, history_rows=10)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(STRICT)
        logs_before = conn.execute("SELECT count(*) FROM public.activity_logs").fetchone()[0]
        out = perf.probe_write_latency(
            conn, ["public.strict_notes", "public.comments", "public.empty_strict"], 5
        )
        strict, comments, empty = (
            out["tables"][t] for t in ("public.strict_notes", "public.comments", "public.empty_strict")
        )
        assert strict["mode"] == "update" and strict["role"] == "(session user)" and strict["n"] == 5
        assert comments["mode"] == "insert" and comments["n"] == 5
        assert empty["n"] == 0 and "update as session user" in empty["error"] and "no row" in empty["error"]
        assert out["probe_ms"] == round((strict["median_ms"] + comments["median_ms"]) / 2, 4)

        cfg = parse_config(foreign_app.CONFIG)
        seen = perf.logged_entity_types(conn, cfg, ["public.strict_notes", "public.comments"])
        assert seen["public.strict_notes"] == {"entity_types": ["note"], "how": "observed"}
        assert seen["public.comments"] == {"entity_types": ["comment"], "how": "observed"}
        # everything was rolled back: no log row, the probed row unchanged
        assert conn.execute("SELECT count(*) FROM public.activity_logs").fetchone()[0] == logs_before
        assert conn.execute("SELECT body FROM public.strict_notes").fetchall() == [("first",)]
