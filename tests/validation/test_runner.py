"""Suites against a real migration: clean passes, every kind of breakage fails for its reason
and the alert mail that arrives (through Airflow's SmtpNotifier, loopback sink) names it."""

from __future__ import annotations

import pytest

from activity_migration.ledger import RunContext
from activity_migration.validation import datadocs
from activity_migration.validation.email import render_alert
from activity_migration.validation.runner import run_suites

from .helpers import execute, migrate

STAGING = RunContext(environment="staging")
ALL = ["events_integrity", "parity", "quarantine"]


def run(dsn, tmp_path, suites=ALL, **kw):
    kw.setdefault("full_check_below_rows", 0)  # these tables are small: test the incremental scope itself
    return run_suites(
        dsn, suites=suites, scope=kw.pop("scope", "full"), ctx=STAGING, data_docs_dir=tmp_path / "docs", **kw
    )


def test_clean_migration_passes_every_suite_and_records_results(migrated, tmp_path):
    outcome = run(migrated, tmp_path)
    assert outcome.success, outcome.summary_lines()
    assert set(outcome.suites) == set(ALL)
    rows = execute(
        migrated,
        "SELECT suite, scope, success, environment, data_docs_path FROM "
        "activity_migration.validation_results ORDER BY suite",
    )
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(s, "full", True, "staging") for s in sorted(ALL)]
    assert all(r[4] and r[4].endswith(".html") for r in rows)
    parity = outcome.suites["parity"].statistics
    assert parity["source_rows_checked"] == 1200 and parity["totals"]["event_rows"] == 1200
    assert sum(r["event_rows"] for r in parity["entity_type_counts"]) == 1200


def test_data_docs_are_readable_offline(migrated, tmp_path):
    outcome = run(migrated, tmp_path, suites=["parity"])
    docs = tmp_path / "docs"
    page = outcome.suites["parity"].data_docs_page
    assert page and (docs / "index.html").exists()
    assert datadocs.remote_assets(docs) == []
    text = open(page).read()
    assert "am/datadocs.css" in text and "cdn" not in text.lower().split("</head>")[0]
    assert (docs / "static" / "am" / "datadocs.css").exists()


BREAKAGES = {
    # name: (SQL that breaks parity, expectation check that must fail, words the mail must contain)
    "deleted_event": (
        "DELETE FROM public.events WHERE id = (SELECT id FROM public.events ORDER BY legacy_activity_log_id "
        "LIMIT 1)",
        "missing",
        "No source row is missing in events",
    ),
    "changed_field": (
        "UPDATE public.events SET payload = '{\"tampered\": true}' "
        "WHERE id = (SELECT id FROM public.events ORDER BY legacy_activity_log_id LIMIT 1)",
        "mismatch:payload",
        "Field parity: payload",
    ),
    "changed_actor": (
        "UPDATE public.events SET actor_id = gen_random_uuid() "
        "WHERE id = (SELECT id FROM public.events ORDER BY legacy_activity_log_id LIMIT 1)",
        "mismatch:actor_id",
        "Field parity: actor_id",
    ),
    "bogus_legacy_id": (
        "INSERT INTO public.events (event_type, category, entity_type, source, legacy_activity_log_id, "
        "occurred_at) "
        "VALUES ('payment.created', 'financial', 'payment', 'backfill', gen_random_uuid(), now())",
        "orphan",
        "No event claims a legacy id that does not exist",
    ),
    "unquarantined_bad_row": (
        "INSERT INTO public.activity_logs (action, entity_type, created_at) VALUES ('Created', 'spaceship', "
        "now())",
        "unquarantined_bad_row",
        "unknown_entity_type",
    ),
    "missing_row": (
        "INSERT INTO public.activity_logs (user_id, action, entity_type, metadata, created_at) "
        "VALUES (gen_random_uuid(), 'Created', 'payment', '{}', now())",
        "missing",
        "No source row is missing in events",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_broken_parity_fails_for_its_reason_and_the_mail_names_it(case, migrated, tmp_path, airflow_mail):
    from migration_airflow.alerts import send_alert

    breaking_sql, check, words = BREAKAGES[case]
    execute(migrated, breaking_sql)
    outcome = run(migrated, tmp_path, suites=["parity"])
    assert not outcome.success
    failed = {r.check: r for r in outcome.failed_expectations}
    assert check in failed, (case, sorted(failed))
    assert failed[check].failures >= 1
    if check != "orphan" and case not in ("unquarantined_bad_row", "missing_row"):
        # the example is a real source key
        assert (
            execute(
                migrated,
                "SELECT count(*) FROM public.activity_logs WHERE id::text = %s",
                (failed[check].examples[0],),
            )[0][0]
            == 1
        )
    subject, body = render_alert(outcome)
    send_alert(subject, body, {"params": {"environment": "staging"}})
    assert len(airflow_mail) == 1
    msg = airflow_mail[0]["message"]
    assert airflow_mail[0]["to"] == ["ops@example.com"]
    assert "parity" in msg["Subject"] and "[staging]" in msg["Subject"]
    n = len(outcome.failed_expectations)
    assert f"{n} failed expectation" in msg["Subject"]
    html = msg.get_body(("html",)).get_content()
    assert words in html
    assert failed[check].examples[0] in html
    assert outcome.suites["parity"].data_docs_page in html
    assert "staging" in html


def test_quarantined_bad_row_is_not_a_failure_but_an_empty_reason_is(migrated, tmp_path):
    execute(
        migrated,
        "INSERT INTO public.activity_logs (action, entity_type, created_at) VALUES ('Created', 'spaceship', "
        "now())",
    )
    migrate(migrated)  # the bad row goes to the quarantine with its reason
    assert (
        execute(migrated, "SELECT reason FROM activity_migration.quarantine")[0][0] == "unknown_entity_type"
    )
    assert run(migrated, tmp_path).success
    execute(migrated, "ALTER TABLE activity_migration.quarantine DROP CONSTRAINT quarantine_reason_check")
    execute(migrated, "UPDATE activity_migration.quarantine SET reason = ''")
    outcome = run(migrated, tmp_path, suites=["quarantine"])
    assert [r.check for r in outcome.failed_expectations] == ["reason_not_empty"]


def test_integrity_suite_flags_unknown_category(migrated, tmp_path):
    execute(
        migrated,
        "UPDATE public.events SET category = 'astrology' "
        "WHERE id = (SELECT id FROM public.events ORDER BY id LIMIT 1)",
    )
    outcome = run(migrated, tmp_path, suites=["events_integrity"])
    failed = {r.check: r for r in outcome.failed_expectations}
    assert list(failed) == ["category_in_set"]
    assert "astrology" in failed["category_in_set"].observed["values"]
    assert failed["category_in_set"].examples  # a legacy id


def test_incremental_scope_touches_only_recent_rows(migrated, tmp_path):
    assert run(migrated, tmp_path, suites=["parity"]).success  # the watermark
    # an OLD broken row (outside the incremental window) and 30 NEW rows, migrated
    execute(
        migrated,
        "UPDATE public.events SET description = 'tampered' "
        "WHERE id = (SELECT id FROM public.events ORDER BY occurred_at LIMIT 1)",
    )
    with __import__("psycopg").connect(migrated, autocommit=True) as conn:
        from .helpers import insert_source_rows

        insert_source_rows(conn, 30, days=0.001, newest_age="0 seconds")
    migrate(migrated)
    inc = run(migrated, tmp_path, suites=["parity"], scope="incremental", sample_ranges=0)
    st = inc.suites["parity"].statistics
    assert inc.scope == "incremental" and inc.success
    assert st["source_rows_checked"] == 30  # only the new rows, not the 1,230 of the table
    assert st["totals"]["source_rows"] == 1230  # whole-table counts still checked
    full = run(migrated, tmp_path, suites=["parity"])
    assert not full.success and [r.check for r in full.failed_expectations] == ["mismatch:description"]
    # the sampled key range covers old rows: with one range (= everything) the old break is found
    inc_all = run(migrated, tmp_path, suites=["parity"], scope="incremental", sample_ranges=1)
    assert not inc_all.success and inc_all.suites["parity"].statistics["sampled_source_rows"] == 1230


def test_incremental_without_an_earlier_pass_checks_everything(migrated, tmp_path):
    outcome = run(migrated, tmp_path, suites=["parity"], scope="incremental")
    assert outcome.scope == "full" and "no earlier successful check" in outcome.statistics["scope_reason"]


def test_bigint_keys(fresh_db, tmp_path):
    from .helpers import migrated_db

    dsn = migrated_db(fresh_db, rows=300, key_type="bigint")
    assert run(dsn, tmp_path, suites=["parity"]).success
    execute(dsn, "DELETE FROM public.events WHERE legacy_activity_log_id = 7")
    outcome = run(dsn, tmp_path, suites=["parity"], scope="incremental", sample_ranges=1)
    failed = {r.check: r.examples for r in outcome.failed_expectations}
    assert failed == {"missing": ["7"], "count_total": ["source 300 - quarantined 0 = 300 vs events 299"]}


def test_incremental_sample_is_bounded_by_its_budget(fresh_db, tmp_path):
    """The rolling sample checks about its budget of older rows: the key space is cut into as
    many slices as it takes (300 rows / budget 50 = 6), one slice per night chosen by date;
    the orphan check covers the same key range; whole-table counts still cover everything."""
    import datetime as dt

    from .helpers import migrated_db

    dsn = migrated_db(fresh_db, rows=300, key_type="bigint")
    assert run(dsn, tmp_path, suites=["parity"]).success  # the watermark
    execute(dsn, "DELETE FROM public.events WHERE legacy_activity_log_id IN (7, 200)")  # 7 sampled, 200 not
    execute(
        dsn, "DELETE FROM public.activity_logs WHERE id = 40"
    )  # its event becomes an orphan (sampled range)
    night = dt.date.fromordinal(6 * 120_000)  # ordinal % 6 == 0: the first slice, keys [1, 51)
    outcome = run(
        dsn,
        tmp_path,
        suites=["parity"],
        scope="incremental",
        sample_ranges=1,
        sample_ratio=0,
        sample_min_rows=50,
        run_date=night,
    )
    st = outcome.suites["parity"].statistics
    assert (st["sample_budget"], st["sample_ranges"], st["sample_index"]) == (50, 6, 0)
    assert (st["sample_lo"], st["sample_hi"]) == ("1", "51")
    assert st["sampled_source_rows"] == 49 and st["source_rows_checked"] == 49  # 1..50 minus the deleted 40
    failed = {r.check: r.examples for r in outcome.failed_expectations}
    assert failed["missing"] == ["7"]  # 200 lies beyond the sample...
    assert failed["count_total"]  # ...but the whole-table counts still see that something is off
    assert failed["orphan"] == ["40"]
    # another night, another slice: keys [151, 201) hold 200
    outcome = run(
        dsn,
        tmp_path,
        suites=["parity"],
        scope="incremental",
        sample_ranges=1,
        sample_ratio=0,
        sample_min_rows=50,
        run_date=night + dt.timedelta(days=3),
    )
    failed = {r.check: r.examples for r in outcome.failed_expectations}
    assert failed["missing"] == ["200"]


# event column -> a value that differs from what the mapping gives (one tampered event each)
TAMPERED = {
    "actor_id": "gen_random_uuid()",
    "customer_id": "gen_random_uuid()",
    "event_type": "'tampered.changed'",
    "entity_type": "'tampered'",
    "entity_id": "'tampered'",
    "description": "'tampered'",
    "payload": "'{\"tampered\": true}'::jsonb",
    "ip_address": "'10.9.9.9'::inet",
    "user_agent": "'tampered'",
    "occurred_at": "occurred_at - interval '1 day'",
}


def test_every_mapped_field_is_compared_alike_by_full_incremental_and_the_view(migrated, tmp_path):
    """The three comparison sites (full collection, incremental collection, the operator's
    v_parity_mismatch view) share one comparison (parity.mismatch_exprs): each tampered field
    is found on its own row, by all three; text normalised as publish_activity writes it
    (trimmed, control characters out) is not a difference."""
    from activity_migration.validation.parity import MISMATCH_FIELDS

    assert set(TAMPERED) == set(MISMATCH_FIELDS)
    keys = [
        r[0]
        for r in execute(
            migrated,
            "SELECT legacy_activity_log_id::text FROM public.events ORDER BY legacy_activity_log_id LIMIT %s",
            (len(TAMPERED) + 1,),
        )
    ]
    for key, (field, value) in zip(keys, TAMPERED.items()):
        execute(
            migrated, f"UPDATE public.events SET {field} = {value} WHERE legacy_activity_log_id = %s", (key,)
        )
    # the last row: legacy text with padding and a control character, the event as publish writes it
    execute(
        migrated,
        "UPDATE public.activity_logs SET description = E'  padded\\u0001 text ', "
        "user_agent = E'agent\\t ' WHERE id = %s",
        (keys[-1],),
    )
    execute(
        migrated,
        "UPDATE public.events SET description = activity_migration.sanitize_text(E'  padded\\u0001 text '), "
        "user_agent = activity_migration.sanitize_text(E'agent\\t ') WHERE legacy_activity_log_id = %s",
        (keys[-1],),
    )
    expected = {f"mismatch:{f}": [k] for k, f in zip(keys, TAMPERED)}

    for scope, kw in (("full", {}), ("incremental", {"sample_ranges": 1})):
        outcome = run(migrated, tmp_path, suites=["parity"], scope=scope, **kw)
        assert outcome.scope == scope
        failed = {r.check: r.examples for r in outcome.failed_expectations if r.check.startswith("mismatch:")}
        assert failed == expected, scope
        if scope == "full":  # the watermark the incremental run starts from
            execute(migrated, "UPDATE activity_migration.validation_results SET success = true")
    view = execute(
        migrated,
        "SELECT legacy_id::text, fields FROM activity_migration.v_parity_mismatch ORDER BY legacy_id",
    )
    assert {k: f for k, f in view} == {k: [f] for k, f in zip(keys, TAMPERED)}
