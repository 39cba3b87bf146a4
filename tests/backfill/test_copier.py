"""The copy: mapping, quarantine classes, both key types, chunk splitting, idempotent re-runs."""

from __future__ import annotations

import psycopg
import pytest

from activity_migration.backfill.copier import run_worker
from activity_migration.backfill.options import BackfillParams
from activity_migration.config import load_config
from activity_migration.errors import MigrationError, PreflightError
from activity_migration.phases import p4_backfill

from .conftest import counts, make_backfill_db

# (action, entity_type, metadata SQL, created_at SQL, description) -> expected reason
BAD_ROWS = {
    "null entity_type": ("created", None, "'{}'", "now() - interval '1 day'", "d", "null_entity_type"),
    "null action": (None, "user", "'{}'", "now() - interval '1 day'", "d", "null_event_type"),
    "null created_at": ("created", "user", "'{}'", "NULL", "d", "null_occurred_at"),
    "metadata array": ("created", "user", "'[1, 2]'", "now() - interval '1 day'", "d", "payload_not_object"),
    "metadata scalar": ("created", "user", "'42'", "now() - interval '1 day'", "d", "payload_not_object"),
    "metadata string": (
        "created",
        "user",
        "'\"text\"'",
        "now() - interval '1 day'",
        "d",
        "payload_not_object",
    ),
    "oversized payload": (
        "created",
        "user",
        "jsonb_build_object('blob', repeat('x', 1048576 + 10))",
        "now() - interval '1 day'",
        "d",
        "payload_too_large",
    ),
    "unknown entity type": (
        "created",
        "spaceship",
        "'{}'",
        "now() - interval '1 day'",
        "d",
        "unknown_entity_type",
    ),
    "before 2000": ("created", "user", "'{}'", "'1999-12-31T23:00:00Z'", "d", "occurred_at_out_of_range"),
    "far future": ("created", "user", "'{}'", "now() + interval '10 years'", "d", "occurred_at_out_of_range"),
    "control char in action": (
        "creat" + chr(7) + "ed",
        "user",
        "'{}'",
        "now() - interval '1 day'",
        "d",
        "broken_text",
    ),
    "control char in description": (
        "created",
        "user",
        "'{}'",
        "now() - interval '1 day'",
        "bad" + chr(1) + "text",
        "broken_text",
    ),
    "U+FFFD in description": (
        "created",
        "user",
        "'{}'",
        "now() - interval '1 day'",
        "caf\ufffd",
        "broken_text",
    ),
    "U+FFFD in action": ("caf\ufffd", "user", "'{}'", "now() - interval '1 day'", "d", "broken_text"),
}


def _params(**kw) -> BackfillParams:
    return BackfillParams.from_mapping(
        {"allow_without_cutoff": True, "initial_chunk_rows": 500, "lease_seconds": 1, **kw}
    )


def _insert_bad_rows(dsn: str) -> dict[str, str]:
    """Insert one row per quarantine class; returns key -> expected reason."""
    expected = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, (action, entity, metadata, created, descr, reason) in BAD_ROWS.items():
            key = conn.execute(
                f"INSERT INTO public.activity_logs (action, entity_type, metadata, created_at, description, "
                "user_id) "
                f"VALUES (%s, %s, {metadata}::jsonb, {created}, %s, gen_random_uuid()) RETURNING id::text",
                (action, entity, descr),
            ).fetchone()[0]
            expected[key] = (name, reason)
    return expected


@pytest.mark.parametrize("key_type", ["uuid", "bigint"])
def test_backfill_copies_good_rows_and_quarantines_each_bad_class(fresh_db, key_type):
    dsn = make_backfill_db(fresh_db, 3000, key_type)
    expected = _insert_bad_rows(dsn)
    cfg = load_config()
    out = p4_backfill.apply(dsn, cfg, None, _params(), workers=2)
    c = counts(dsn)
    assert c["missing"] == 0 and c["events"] == 3000 and c["distinct_legacy"] == 3000
    assert c["quarantined"] == len(BAD_ROWS) and c["ledger_copied"] == c["backfill_events"] == 3000
    assert c["chunks_not_done"] == 0
    assert out["check"]["missing"] == 0 and out["check"]["in_quarantine"] == len(BAD_ROWS)
    with psycopg.connect(dsn) as conn:
        got = dict(conn.execute("SELECT legacy_id, reason FROM activity_migration.quarantine").fetchall())
        for key, (name, reason) in expected.items():
            assert got.get(key) == reason, f"{name}: expected {reason}, got {got.get(key)}"
        original = conn.execute(
            "SELECT original_row FROM activity_migration.quarantine q WHERE reason = 'unknown_entity_type'"
        ).fetchone()[0]
        assert original["entity_type"] == "spaceship"  # the original row is kept whole
        ev = conn.execute("""
            SELECT e.event_type, e.category, e.payload, e.source, e.occurred_at = s.created_at, e.actor_id =
                s.user_id,
                   e.entity_id = s.entity_id, e.ip_address = s.ip_address
              FROM public.events e JOIN public.activity_logs s ON s.id = e.legacy_activity_log_id
             WHERE s.action = 'Status Changed' AND s.entity_type = 'payment_plan' LIMIT 1""").fetchone()
        assert ev[0] == "payment_plan.status_changed" and ev[1] == "financial"
        assert ev[2]["note"] == "history" and ev[3] == "backfill" and all(ev[4:])


def test_rerun_is_idempotent_and_new_rows_are_picked_up(backfill_db):
    cfg = load_config()
    p4_backfill.apply(backfill_db, cfg, None, _params(), workers=1)
    before = counts(backfill_db)
    p4_backfill.apply(backfill_db, cfg, None, _params(), workers=2)  # nothing left: no change
    assert counts(backfill_db) == before
    with psycopg.connect(backfill_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO public.activity_logs (action, entity_type, created_at) "
            "SELECT 'created', 'user', now() - interval '1 hour' FROM generate_series(1, 10)"
        )
    p4_backfill.apply(backfill_db, cfg, None, _params(), workers=2)  # complete plan + new rows: replan
    after = counts(backfill_db)
    assert after["events"] == before["events"] + 10 and after["missing"] == 0


def test_large_chunks_are_split_by_key_and_sizes_adapt(backfill_db):
    cfg = load_config()
    with psycopg.connect(backfill_db, autocommit=True) as conn:
        from activity_migration.backfill import planner

        planner.plan(conn, cfg, target_rows=100_000)  # one chunk for 3000 rows
    report = run_worker(backfill_db, cfg, "t0", _params(initial_chunk_rows=400))
    assert report.chunks_split >= 3  # cut into ~400-row pieces
    c = counts(backfill_db)
    assert c["missing"] == 0 and c["ledger_copied"] == 3000 and c["chunks_not_done"] == 0
    with psycopg.connect(backfill_db) as conn:
        n = conn.execute("SELECT count(*) FROM activity_migration.backfill_chunks").fetchone()[0]
    assert n == report.chunks_done and n > 3


def test_without_cutoff_the_backfill_refuses_to_start(backfill_db):
    with pytest.raises(PreflightError, match="phase 2"):
        p4_backfill.apply(backfill_db, load_config(), None, BackfillParams())


def test_dry_run_writes_nothing(backfill_db):
    out = p4_backfill.apply(backfill_db, load_config(), None, _params(dry_run=True))
    assert out["plan"]["written"] is False and out["plan"]["rows_in_scope"] == 3000
    c = counts(backfill_db)
    assert c["events"] == 0 and c["quarantined"] == 0
    with psycopg.connect(backfill_db) as conn:
        assert conn.execute("SELECT count(*) FROM activity_migration.backfill_chunks").fetchone()[0] == 0


def test_padded_and_empty_text_is_normalised_as_publish_activity_does_and_parity_agrees(fresh_db, tmp_path):
    """Real logs carry padded text: the copy trims it as publish_activity does, and parity expects that."""
    from activity_migration.validation.runner import run_suites

    dsn = make_backfill_db(fresh_db, 200, "bigint")
    with psycopg.connect(dsn, autocommit=True) as conn:
        key = conn.execute(
            "INSERT INTO public.activity_logs (action, entity_type, entity_id, description, user_agent, "
            "created_at) "
            "VALUES ('created', ' user ', ' 42 ', '  looks good  ', E'  ua\\x01/1  ', now() - interval '1 "
            "day') "
            "RETURNING id"
        ).fetchone()[0]
        empty = conn.execute(
            "INSERT INTO public.activity_logs (action, entity_type, description, created_at) "
            "VALUES ('created', 'user', '   ', now() - interval '1 day') RETURNING id"
        ).fetchone()[0]
    p4_backfill.apply(dsn, load_config(), None, _params(), workers=1)
    with psycopg.connect(dsn) as conn:
        got = conn.execute(
            "SELECT entity_type, entity_id, description, user_agent, event_type FROM public.events "
            "WHERE legacy_activity_log_id = %s",
            (key,),
        ).fetchone()
        assert got == ("user", "42", "looks good", "ua/1", "user.created")
        assert (
            conn.execute(
                "SELECT description FROM public.events WHERE legacy_activity_log_id = %s", (empty,)
            ).fetchone()[0]
            is None
        )
    outcome = run_suites(dsn, ["parity"], data_docs_dir=tmp_path)
    assert outcome.success, outcome.summary_lines()


def test_zero_loss_check_fails_with_the_counts_for_a_missing_row_and_a_row_in_both(backfill_db):
    cfg = load_config()
    p4_backfill.apply(backfill_db, cfg, None, _params(), workers=1)
    assert p4_backfill.check_zero_loss(backfill_db, cfg)["in_events"] == 3000
    with psycopg.connect(backfill_db, autocommit=True) as conn:
        gone, both = [
            r[0]
            for r in conn.execute(
                "SELECT legacy_activity_log_id FROM public.events ORDER BY legacy_activity_log_id LIMIT 2"
            )
        ]
        conn.execute("DELETE FROM public.events WHERE legacy_activity_log_id = %s", (gone,))
        conn.execute(
            "INSERT INTO activity_migration.quarantine (legacy_id, reason, original_row) "
            "VALUES (%s, 'test', '{}')",
            (str(both),),
        )
    with pytest.raises(MigrationError) as exc:
        p4_backfill.check_zero_loss(backfill_db, cfg)
    msg = str(exc.value)
    assert "of 3000 source rows in scope, 1 are neither in events nor in the quarantine" in msg, msg
    assert "1 are in events AND in the quarantine" in msg, msg


def test_text_ip_column_converts_and_an_unconvertible_value_is_quarantined_not_a_failed_chunk(fresh_db):
    """An application that keeps the ip address as text: valid addresses become inet in events,
    a value that is no address ('unknown') sends its row to the quarantine with the reason and
    the original row (a plain cast would fail the whole chunk); parity then passes."""
    from activity_migration.ledger import RunContext
    from activity_migration.validation.runner import run_suites

    dsn = make_backfill_db(fresh_db, 500, "uuid")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE public.activity_logs ALTER COLUMN ip_address TYPE text USING host(ip_address)"
        )
        bad = conn.execute(
            "INSERT INTO public.activity_logs (user_id, action, entity_type, ip_address, created_at) "
            "VALUES (gen_random_uuid(), 'created', 'user', 'unknown', now() - interval '1 hour') "
            "RETURNING id::text"
        ).fetchone()[0]
        good = conn.execute(
            "INSERT INTO public.activity_logs (user_id, action, entity_type, ip_address, created_at) "
            "VALUES (gen_random_uuid(), 'created', 'user', '2001:db8::7', now() - interval '1 hour') "
            "RETURNING id::text"
        ).fetchone()[0]
    out = p4_backfill.apply(dsn, load_config(), None, _params(), workers=1)
    c = counts(dsn)
    assert c["chunks_not_done"] == 0 and c["missing"] == 0
    assert c["events"] == 501 and c["quarantined"] == 1 and out["check"]["in_quarantine"] == 1
    with psycopg.connect(dsn) as conn:
        reason, original = conn.execute(
            "SELECT reason, original_row FROM activity_migration.quarantine WHERE legacy_id = %s", (bad,)
        ).fetchone()
        assert reason == "unconvertible_ip_address" and original["ip_address"] == "unknown"
        assert (
            conn.execute(
                "SELECT ip_address::text FROM public.events WHERE legacy_activity_log_id = %s", (good,)
            ).fetchone()[0]
            == "2001:db8::7/128"
        )
    parity = run_suites(dsn, ["parity"], "full", RunContext(environment="staging"), None)
    assert parity.success, parity.summary_lines()
