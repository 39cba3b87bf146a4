"""The tokenizer and the mechanical rewrite of legacy logging functions (pure Python)."""

from __future__ import annotations

import pytest

from activity_migration.config import load_config
from activity_migration.phases.p2_rewrite import (
    REWRITE_MARKER,
    Rewriter,
    UnrewritableFunction,
    replace_body,
)
from activity_migration.sqltext import (
    significant,
    split_statements,
    split_top_level,
    tokenize,
)


@pytest.fixture(scope="module")
def rw():
    return Rewriter(load_config())


def test_tokenizer_round_trips_and_respects_quotes():
    src = (
        "a := 'it''s, (x)'; b := $t$ ; , ( $t$; /* c, ( /* nested */ ) */ "
        'c := E\'\\\', \' || "q,""x" -- tail, ('
    )
    toks = tokenize(src)
    assert "".join(t.text for t in toks) == src
    kinds = [t.kind for t in toks]
    assert kinds.count("string") == 2 and kinds.count("dollar") == 1 and kinds.count("qident") == 1
    assert kinds.count("comment") == 2


def test_split_top_level_ignores_commas_in_parens_strings_and_dollar_quotes():
    src = "f(a, b), 'x, y', $$p, q$$, (1, (2, 3)), g[1,2]"
    parts = split_top_level(significant(tokenize(src)))
    assert ["".join(t.text for t in p) for p in parts] == [
        "f(a,b)",
        "'x, y'",
        "$$p, q$$",
        "(1,(2,3))",
        "g[1,2]",
    ]


def test_split_statements_keeps_function_bodies_whole():
    script = "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; SELECT 2; $$ LANGUAGE sql; -- x;\nSELECT ';';"
    assert len(split_statements(script)) == 2


def test_unterminated_dollar_quote_is_reported(rw):
    with pytest.raises(UnrewritableFunction, match="unterminated dollar quote"):
        rw.rewrite("f()", "BEGIN x := $a$ oops; END")


BODY = """
DECLARE
  v text := 'INSERT INTO activity_logs (action) VALUES (1)';   -- a string, not a statement
BEGIN
  -- INSERT INTO activity_logs (action) VALUES ('commented');
  IF TG_OP = 'INSERT' THEN
    INSERT INTO activity_logs (user_id, action, entity_type, entity_id, metadata)
    VALUES (NEW.owner_id, 'created', 'payment_plan', NEW.id::text,
            jsonb_build_object('a', coalesce(NEW.x, 'p, q'), 'b', $x$), ($x$ || '('));
  ELSE
    INSERT INTO public.activity_logs (id, user_id, action, entity_type, description, created_at)
    VALUES (gen_random_uuid(), OLD.owner_id, lower(TG_OP), 'payment_plan', format('%s, %s', 1, 2), now()),
           (gen_random_uuid(), NULL, 'second', 'payment_plan', NULL, NULL);
  END IF;
  PERFORM count(*) FROM activity_logs WHERE entity_id = NEW.id::text;
  RETURN NEW;
END
"""


def test_rewrites_each_insert_in_if_branches_and_keeps_the_rest(rw):
    out = rw.rewrite("public.f()", BODY)
    assert out.changed and len(out.statements) == 2
    body = out.new_body
    assert body.startswith("\n" + REWRITE_MARKER)
    assert body.count("PERFORM activity_migration.publish_activity_internal(") == 3  # 1 + 2 VALUES rows
    assert "'INSERT INTO activity_logs (action) VALUES (1)'" in body  # the string is untouched
    assert "-- INSERT INTO activity_logs (action) VALUES ('commented');" in body
    assert "PERFORM count(*) FROM activity_logs" in body  # reads stay
    assert (
        "p_payload => (jsonb_build_object('a', coalesce(NEW.x, 'p, q'), 'b', $x$), ($x$ || '('))::jsonb"
        in body
    )
    assert (
        "p_event_type => activity_migration.event_type_for(('payment_plan')::text, ('created')::text)" in body
    )
    assert "p_description => (format('%s, %s', 1, 2))::text" in body
    assert "p_occurred_at => coalesce((now())::timestamptz, now())" in body
    assert "gen_random_uuid()" not in body  # the key column is left to its default
    assert body.count("p_source => 'trigger'") == 3
    assert "p_legacy_action => (lower(TG_OP))::text" in body
    assert "INSERT INTO activity_logs (user_id" not in body and "INSERT INTO public.activity_logs" not in body


def test_schema_qualified_and_quoted_identifiers(rw):
    body = (
        'BEGIN INSERT INTO "public"."activity_logs" ("user_id", "action", entity_type) VALUES (a, b, c); END'
    )
    out = rw.rewrite("f()", body)
    assert "p_actor_id => (a)::uuid" in out.new_body and "p_entity_type => (c)::text" in out.new_body


def test_other_schema_table_is_not_ours(rw):
    body = "BEGIN INSERT INTO audit.activity_logs (action, entity_type) VALUES ('x', 'y'); END"
    assert not rw.rewrite("f()", body).changed


@pytest.mark.parametrize(
    "body, why",
    [
        ("BEGIN INSERT INTO activity_logs (action, entity_type) DEFAULT VALUES; END", "only INSERT … VALUES"),
        (
            "BEGIN INSERT INTO activity_logs (action, entity_type) SELECT 'a', 'b' RETURNING id INTO v; END",
            "RETURNING",
        ),
        (
            "BEGIN INSERT INTO activity_logs (action, entity_type) SELECT 'a', 'b' ON CONFLICT DO NOTHING; "
            "END",
            "ON CONFLICT",
        ),
        ("BEGIN INSERT INTO activity_logs (action, entity_type) SELECT * FROM x; END", "SELECT *"),
        ("BEGIN INSERT INTO activity_logs (action, entity_type) SELECT 'a' FROM x; END", "query selects 1"),
        (
            "BEGIN INSERT INTO activity_logs (action, entity_type) SELECT action, 'b' FROM "
            "public.activity_logs; END",
            "the table it writes",
        ),
        (
            "BEGIN INSERT INTO activity_logs (action, entity_type) VALUES ('a','b') RETURNING id INTO v; END",
            "RETURNING",
        ),
        ("BEGIN UPDATE activity_logs SET action = 'x'; END", "UPDATE"),
        ("BEGIN DELETE FROM public.activity_logs WHERE true; END", "DELETE"),
        ("BEGIN EXECUTE format('INSERT INTO %I (action) VALUES (1)', 'activity_logs'); END", "dynamic SQL"),
        ("BEGIN INSERT INTO activity_logs VALUES (1, 2); END", "no column list"),
        ("BEGIN INSERT INTO activity_logs (action, entity_type, bogus) VALUES (1, 2, 3); END", "bogus"),
        ("BEGIN INSERT INTO activity_logs (user_id, entity_type) VALUES (1, 2); END", "sets no action"),
        (
            "BEGIN WITH x AS (INSERT INTO activity_logs (action, entity_type) VALUES (1, 2)) SELECT 1; END",
            "inside another",
        ),
    ],
)
def test_unrewritable_forms_name_function_and_statement(rw, body, why):
    with pytest.raises(UnrewritableFunction) as exc:
        rw.rewrite("public.log_thing()", body)
    assert "public.log_thing()" in str(exc.value) and why in str(exc.value)


def test_sql_language_uses_select(rw):
    out = rw.rewrite("f(uuid)", "INSERT INTO activity_logs (action, entity_type) VALUES ('a', 'b')", "sql")
    assert out.new_body.strip().endswith(
        "SELECT activity_migration.publish_activity_internal(p_event_type => "
        "activity_migration.event_type_for(('b')::text, ('a')::text), "
        "p_entity_type => ('b')::text, p_source => 'trigger', "
        "p_legacy_action => ('a')::text)"
    )


def test_replace_body_swaps_only_the_body():
    d = (
        "CREATE OR REPLACE FUNCTION public.f()\n RETURNS trigger\n LANGUAGE plpgsql\n"
        "AS $function$\nBEGIN END\n$function$\n"
    )
    assert replace_body(d, "\nBEGIN END\n", "\nBEGIN NULL; END\n") == d.replace(
        "BEGIN END", "BEGIN NULL; END"
    )


def test_insert_select_becomes_one_publish_per_query_row(rw):
    body = """BEGIN
  INSERT INTO public.activity_logs (user_id, action, entity_type, entity_id, metadata, created_at)
  SELECT DISTINCT auth.uid(), 'imported', 'bulk_operation', n.id::text AS ent,
         jsonb_build_object('rows', count(*) OVER (), 'of', $q$a, (b)$q$) meta, DEFAULT_TS
  FROM new_rows n JOIN (SELECT 1) x ON true
  WHERE n.id IS NOT NULL
  ORDER BY 4;
  RETURN NULL;
END"""
    out = rw.rewrite("public.log_import()", body)
    assert out.changed and len(out.statements) == 1
    new = out.new_body
    assert "INSERT INTO" not in new and "RETURN NULL;" in new
    # the query is kept whole, its columns renamed by position
    assert (
        "FROM (SELECT DISTINCT auth.uid(), 'imported', 'bulk_operation', n.id::text AS ent,\n"
        "         jsonb_build_object('rows', count(*) OVER (), 'of', $q$a, (b)$q$) meta, DEFAULT_TS\n"
        "  FROM new_rows n JOIN (SELECT 1) x ON true\n  WHERE n.id IS NOT NULL\n  ORDER BY 4) "
        "AS _legacy_rows(user_id, action, entity_type, entity_id, metadata, created_at);"
    ) in new
    assert new.count("PERFORM activity_migration.publish_activity_internal(") == 1
    assert (
        "p_event_type => activity_migration.event_type_for((_legacy_rows.entity_type)::text, "
        "(_legacy_rows.action)::text)"
    ) in new
    assert "p_actor_id => (_legacy_rows.user_id)::uuid" in new
    assert "p_payload => (_legacy_rows.metadata)::jsonb" in new
    assert "p_occurred_at => coalesce((_legacy_rows.created_at)::timestamptz, now())" in new


def test_insert_with_query_and_values_default(rw):
    out = rw.rewrite(
        "f()",
        "BEGIN INSERT INTO activity_logs (action, entity_type) WITH c AS (SELECT 1) "
        "SELECT 'a', 'b' FROM c; INSERT INTO activity_logs (id, action, entity_type, created_at) "
        "VALUES (DEFAULT, 'x', 'y', DEFAULT); END",
    )
    assert (
        "FROM (WITH c AS (SELECT 1) SELECT 'a', 'b' FROM c) AS _legacy_rows(action, entity_type)"
        in out.new_body
    )
    assert "DEFAULT" not in out.new_body.replace("DEFAULT_TS", "")


def test_sql_language_insert_select_uses_select(rw):
    out = rw.rewrite("f(text)", "INSERT INTO activity_logs (action, entity_type) SELECT $1, 'note'", "sql")
    assert out.new_body.strip().startswith(
        REWRITE_MARKER + "\nSELECT activity_migration.publish_activity_internal("
    )
    assert out.new_body.strip().endswith("FROM (SELECT $1, 'note') AS _legacy_rows(action, entity_type)")
