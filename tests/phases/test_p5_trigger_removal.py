"""Phase 5 on a real Postgres with the seeded demo app: discovery, backup/drop/restore, sensors.

Every test uses its own copy of the demo database. Tests that need application traffic run
the demo workload generator (the upgraded application: with ``publish="auto"`` it publishes
events itself for tables that no longer have logging triggers).
"""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg
import pytest

from activity_migration import catalog, ledger, perf, tiers
from activity_migration.config import load_config
from activity_migration.errors import GateClosed, PreflightError
from activity_migration.ledger import RunContext
from activity_migration.phases import p5_trigger_removal as p5
from catalog_snapshot import diff, snapshot
from workload_helper import Background

CFG = load_config()
CTX = RunContext(environment="staging", mode="demo", dag_run_id="pytest-p5")
EXPECTED_PER_TIER = {1: 13, 2: 7, 3: 20, 4: 8, 5: 16}


def _phase1(dsn: str) -> None:
    from activity_migration.phases import p1_infrastructure

    p1_infrastructure.apply(dsn, CFG, CTX)


def _phase2(dsn: str) -> None:
    from activity_migration.phases import p2_dual_write

    p2_dual_write.apply(dsn, CFG, CTX)


# --- discovery --------------------------------------------------------------------------------------------


def test_discovery_finds_all_64_demo_triggers_each_in_its_tier(demo_db):
    with psycopg.connect(demo_db) as conn:
        plans = tiers.plan_tiers(conn, CFG)
        every_trigger = catalog.all_triggers(conn)
    assert {n: len(p.triggers) for n, p in plans.items()} == EXPECTED_PER_TIER
    assert sum(len(p.triggers) for p in plans.values()) == 64
    for n, p in plans.items():
        assert all(CFG.tier_of_table(t.table) == n for t in p.triggers)
    found = {t.identity for p in plans.values() for t in p.triggers}
    updated_at = {
        f"{r['schema_name']}.{r['table_name']}.{r['trigger_name']}"
        for r in every_trigger
        if r["function_name"] == "set_updated_at"
    }
    assert updated_at, "the demo has set_updated_at triggers"
    assert not updated_at & found, "an updated_at trigger was taken for a logging trigger"


def test_unclaimed_logging_trigger_stops_the_plan_naming_it(demo_db):
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE public.audit_extras (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), note text);
            CREATE FUNCTION public.log_audit_extra() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO public.activity_logs (action, entity_type, entity_id) VALUES ('created',
                    'audit_extra', NEW.id::text);
                RETURN NULL;
            END $$;
            CREATE TRIGGER audit_extras_log AFTER INSERT ON public.audit_extras
                FOR EACH ROW EXECUTE FUNCTION public.log_audit_extra();""")
        with pytest.raises(PreflightError) as err:
            tiers.plan_tiers(conn, CFG)
    assert "public.audit_extras.audit_extras_log" in str(err.value)
    assert "no tier claims" in str(err.value)


def test_claimed_table_without_logging_triggers_stops_the_plan(demo_db):
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute("DROP TRIGGER wallets_activity ON public.wallets")
        with pytest.raises(
            PreflightError, match=r"tier 4 claims table public\.wallets, which has no logging trigger"
        ):
            tiers.plan_tiers(conn, CFG)


# --- backup, drop, restore --------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["legacy", "dual_write"])
def test_drop_then_restore_each_tier_leaves_the_catalog_identical(demo_db, form):
    if form == "dual_write":
        _phase1(demo_db)
        _phase2(demo_db)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        # odd states the restore must reproduce: a disabled trigger, a replica-only trigger, a grant
        conn.execute("ALTER TABLE public.payments DISABLE TRIGGER payments_activity_delete")
        conn.execute("ALTER TABLE public.users ENABLE REPLICA TRIGGER users_activity_role_changed")
        conn.execute("GRANT EXECUTE ON FUNCTION public.log_token_activity() TO service_role")
        conn.execute("COMMENT ON FUNCTION public.log_wallet_activity() IS 'wallet log'")
    before = snapshot(demo_db)
    for n in sorted(EXPECTED_PER_TIER):
        with psycopg.connect(demo_db) as conn:
            plan = tiers.plan_tier(conn, CFG, n)
            assert tiers.backup_tier(conn, CFG, plan)["triggers"] == EXPECTED_PER_TIER[n]
        out = tiers.drop_tier(demo_db, CFG, n)
        assert len(out["dropped_triggers"]) == EXPECTED_PER_TIER[n]
        with psycopg.connect(demo_db) as conn:
            assert all(CFG.tier_of_table(t.table) != n for t in catalog.logging_triggers(conn, CFG))
            assert tiers.tier_states(conn, CFG)[n]["status"] == "dropped"
        restored = tiers.restore_tier(demo_db, CFG, n)
        assert len(restored["restored_triggers"]) == EXPECTED_PER_TIER[n]
        assert diff(before, snapshot(demo_db)) == {}, f"tier {n}"
    with psycopg.connect(demo_db) as conn:
        assert {s["status"] for s in tiers.tier_states(conn, CFG).values()} == {"restored"}


def test_drop_refuses_without_a_current_backup(demo_db):
    with psycopg.connect(demo_db) as conn:
        ledger.ensure_state_schema(conn, CFG)
        tiers.backup_tier(conn, CFG, tiers.plan_tier(conn, CFG, 2))
    with psycopg.connect(demo_db, autocommit=True) as conn:  # the definition changes after the backup
        conn.execute("ALTER TABLE public.templates DISABLE TRIGGER templates_activity")
        conn.execute("ALTER TABLE public.templates ENABLE TRIGGER templates_activity")
        conn.execute(
            "CREATE OR REPLACE TRIGGER templates_activity AFTER INSERT ON public.templates "
            "FOR EACH ROW EXECUTE FUNCTION public.log_template_activity()"
        )
    with pytest.raises(
        PreflightError, match="no current backup for trigger public.templates.templates_activity"
    ):
        tiers.drop_tier(demo_db, CFG, 2)
    with psycopg.connect(demo_db) as conn:
        assert len(tiers.plan_tier(conn, CFG, 2).triggers) == 7  # nothing dropped


def test_gate_requires_previous_tier_verified_and_a_verified_tier_is_a_no_op(demo_db):
    with pytest.raises(GateClosed, match="tier 2 may start only after tier 1 is verified"):
        p5.gate_previous_tier(demo_db, CFG, CTX, 2)
    assert p5.gate_previous_tier(demo_db, CFG, CTX, 1)["proceed"] is True
    with psycopg.connect(demo_db) as conn:
        tiers.set_tier_state(conn, CFG, 1, "verified")
        conn.commit()
    assert p5.gate_previous_tier(demo_db, CFG, CTX, 1)["proceed"] is False
    assert p5.gate_previous_tier(demo_db, CFG, CTX, 2)["proceed"] is True


def test_compare_write_cost_passes_improvement_and_waits_on_regression():
    base = {"probe_ms": 1.0, "statement_mean_ms": None, "statement_calls": 0}
    assert p5.compare_write_cost(base, {"probe_ms": 0.6}, 10).state == "pass"
    v = p5.compare_write_cost(base, {"probe_ms": 1.25}, 10)
    assert v.state == "wait" and v.figures["change_pct"] == 25.0
    assert p5.compare_write_cost(base, {"probe_ms": 1.05}, 10).figures["improvement_pct"] == -5.0


# --- sensors with the application running ----------------------------------------------------------------


def _hand_over(
    dsn: str, tier: int, ctx: RunContext = CTX, *, window_s: float = 3.0, timeout_s: float = 60
) -> dict:
    """The tier's handover with the upgraded application writing (it publishes once told): poll
    the readiness sensor until it passes, as the DAG's sensor does."""
    from activity_migration.phases import p5_handover

    p5_handover.handover(dsn, CFG, ctx, tier)
    bg = Background(dsn, publish="auto", rate=80)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            v = p5_handover.readiness_poke(dsn, CFG, ctx, tier, window_s=window_s, min_ratio=0.95)
            if v.state == "pass":
                return v.figures
            assert v.state == "wait" and time.monotonic() < deadline, v.message
            time.sleep(0.5)
    finally:
        assert bg.stop().failed == 0


def _prepare_dropped_tier(
    dsn: str, tier: int, *, window_s: float = 2, probe_writes: int = 20, ctx: RunContext = CTX
) -> dict:
    """Phases 1-2, then the tier's baseline, backup, handover (passed) and drop."""
    from activity_migration.phases._common import dual_write_enabled

    with psycopg.connect(dsn) as conn:
        dual = ledger.state_schema_exists(conn, CFG) and dual_write_enabled(conn, CFG)
    if not dual:  # the handover is measured during dual write
        _phase1(dsn)
        _phase2(dsn)
    base = p5.baseline(dsn, CFG, ctx, tier, window_s=window_s, probe_writes=probe_writes)
    p5.backup(dsn, CFG, ctx, tier)
    _hand_over(dsn, tier, ctx)
    p5.apply(dsn, CFG, ctx, tier)
    return base


def _event_flow_over(dsn: str, tier: int, publish: str, window_s: float = 6) -> p5.Verdict:
    """Open a window, let the workload write for it, close it."""
    first = p5.event_flow_poke(dsn, CFG, CTX, tier, window_s=window_s, min_ratio=0.95)
    assert first.state == "wait"
    bg = Background(dsn, publish=publish, rate=80)
    time.sleep(window_s + 0.5)
    report = bg.stop()
    time.sleep(1.5)  # table statistics reach pg_stat_user_tables up to ~1 s late
    assert report.failed == 0
    return p5.event_flow_poke(dsn, CFG, CTX, tier, window_s=window_s, min_ratio=0.95)


def test_event_flow_sensor_fails_without_publishing_restores_the_tier_and_passes_with_it(demo_db):
    base = _prepare_dropped_tier(demo_db, 1)
    assert set(base["entity_types"]) == {"notification", "bulk_operation", "email"}
    missing = _event_flow_over(demo_db, 1, "never")
    assert missing.state == "fail", missing.message
    assert missing.figures["writes_total"] > 0 and missing.figures["events"] == 0
    assert "activity went missing" in missing.message and "restored from the backup" in missing.message
    with psycopg.connect(demo_db) as conn:  # the triggers are back at once, the drop is recorded as failed
        assert (
            len([t for t in catalog.logging_triggers(conn, CFG) if t.table in CFG.tier(1).table_names]) == 13
        )
        assert tiers.tier_states(conn, CFG)[1]["status"] == "restored"
        assert ledger.last_step(conn, "p5_trigger_removal", "tier_1_drop", cfg=CFG)["status"] == "failed"

    ctx2 = RunContext(environment="staging", mode="demo", dag_run_id="pytest-p5-second")
    _prepare_dropped_tier(demo_db, 1, ctx=ctx2)
    first = p5.event_flow_poke(demo_db, CFG, ctx2, 1, window_s=6, min_ratio=0.95)
    assert first.state == "wait"
    bg = Background(demo_db, publish="auto", rate=80)
    time.sleep(6.5)
    report = bg.stop()
    time.sleep(1.5)
    assert report.failed == 0
    ok = p5.event_flow_poke(demo_db, CFG, ctx2, 1, window_s=6, min_ratio=0.95)
    assert ok.state == "pass", ok.message
    assert ok.figures["ratio"] >= 0.95


def test_event_flow_without_writes_is_no_evidence(demo_db):
    _prepare_dropped_tier(demo_db, 1, window_s=0.2)
    assert p5.event_flow_poke(demo_db, CFG, CTX, 1, window_s=0.5, min_ratio=0.95).state == "wait"
    time.sleep(0.7)
    v = p5.event_flow_poke(demo_db, CFG, CTX, 1, window_s=0.5, min_ratio=0.95)
    assert v.state == "wait" and "0 committed writes" in v.message and "window stays open" in v.message


def _poll_event_flow(
    dsn: str, ctx: RunContext, *, window_s: float, timeout_s: float = 60, **bg
) -> p5.Verdict:
    """The event-flow sensor's pokes while the application writes, until a verdict."""
    background = Background(dsn, **bg)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            v = p5.event_flow_poke(dsn, CFG, ctx, 1, window_s=window_s, min_ratio=0.95)
            if v.state != "wait" or time.monotonic() > deadline:
                return v
            time.sleep(0.5)
    finally:
        assert background.stop().failed == 0


def test_event_flow_at_a_low_rate_waits_for_enough_writes_then_passes(demo_db):
    """A quiet application (few writes per window) and a short window: the sensor keeps the
    window open until the sample is large enough, then passes; nothing was lost."""
    ctx = RunContext(environment="staging", mode="demo", dag_run_id="pytest-p5-low-rate")
    _prepare_dropped_tier(demo_db, 1, ctx=ctx)
    v = _poll_event_flow(demo_db, ctx, window_s=2, rate=12, publish="auto")
    assert v.state == "pass", v.message
    assert v.figures["writes_total"] >= p5.MIN_EVENT_FLOW_WRITES
    assert all("committed" in t["method"] for t in v.figures["tables"].values())


def test_event_flow_names_the_table_the_application_stops_publishing_for(demo_db):
    ctx = RunContext(environment="staging", mode="demo", dag_run_id="pytest-p5-one-table")
    _prepare_dropped_tier(demo_db, 1, ctx=ctx)
    v = _poll_event_flow(demo_db, ctx, window_s=4, rate=80, publish="auto", unpublished=("emails",))
    assert v.state == "fail", v.message
    assert v.figures["missing_tables"] == ["public.emails"] and "public.emails" in v.message
    assert v.figures["tables"]["public.notifications"]["ratio"] >= 0.95


def test_a_burst_of_rolled_back_application_writes_does_not_fail_the_event_flow(demo_db):
    """Rolled-back writes are no activity: only committed writes are counted."""
    ctx = RunContext(environment="staging", mode="demo", dag_run_id="pytest-p5-rollbacks")
    _prepare_dropped_tier(demo_db, 1, ctx=ctx)
    assert p5.event_flow_poke(demo_db, CFG, ctx, 1, window_s=4, min_ratio=0.95).state == "wait"
    bg = Background(demo_db, publish="auto", rate=60)
    try:
        with psycopg.connect(demo_db) as conn:
            for _ in range(300):  # the application's failed requests: written, then rolled back
                conn.execute("SET LOCAL ROLE service_role")
                conn.execute("INSERT INTO public.notifications DEFAULT VALUES")
                conn.execute("INSERT INTO public.emails DEFAULT VALUES")
                conn.rollback()
        time.sleep(4.5)
        deadline, v = time.monotonic() + 40, None
        while time.monotonic() < deadline:
            v = p5.event_flow_poke(demo_db, CFG, ctx, 1, window_s=4, min_ratio=0.95)
            if v.state != "wait":
                break
            time.sleep(0.5)
    finally:
        assert bg.stop().failed == 0
    assert v is not None and v.state == "pass", v and v.message
    assert v.figures["writes_total"] < 600  # the 600 rolled-back rows are not in it


def test_event_flow_counts_writes_whose_statistics_arrive_after_the_window_opened(demo_db):
    """A published write made just before the window opened, whose counters reach
    pg_stat_user_tables only after the opening snapshot, is in the window's write delta: its
    event (created before the window) must count too, or a fully publishing app reads as a loss."""
    _prepare_dropped_tier(demo_db, 1, window_s=0.2)
    tables = CFG.tier(1).table_names
    time.sleep(1.2)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        c0 = perf.write_counters(conn, tables)  # the counters as they stand before the writes
    with psycopg.connect(demo_db) as conn:  # the upgraded app: each write publishes its event
        conn.execute("SET ROLE service_role")
        for _ in range(5):
            entity_id = conn.execute(
                "INSERT INTO public.notifications DEFAULT VALUES RETURNING id::text"
            ).fetchone()[0]
            conn.execute(
                "SELECT public.publish_activity('notification.created', 'notification', %s)", (entity_id,)
            )
        written_at = conn.execute("SELECT now()").fetchone()[0]
        conn.commit()
    time.sleep(1.2)  # the counters arrive
    with psycopg.connect(demo_db, autocommit=True) as conn:
        c1 = perf.write_counters(conn, tables)
    # the window "opened" 1 s after the writes, before their counters were flushed
    late_open = dict(c0, at=(written_at + timedelta(seconds=1)).isoformat())
    verdict = p5.judge_event_flow(
        demo_db, CFG, 1, late_open, c1, ["notification", "bulk_operation", "email"], 0.95, "late-stats"
    )
    assert verdict.figures["writes_total"] == 5
    assert verdict.state == "pass", verdict.message
    assert verdict.figures["events"] == 5


def test_write_cost_sensor_measures_the_drop_and_record_done_stores_it(demo_db):
    _prepare_dropped_tier(demo_db, 5, window_s=0.5, probe_writes=60)
    assert (
        p5.performance_poke(demo_db, CFG, CTX, 5, window_s=0.5, max_regression_pct=50, probe_writes=60).state
        == "wait"
    )
    time.sleep(0.6)
    v = p5.performance_poke(demo_db, CFG, CTX, 5, window_s=0.5, max_regression_pct=50, probe_writes=60)
    assert v.state == "pass", v.message
    assert v.figures["method"] in ("probe", "pg_stat_statements")
    assert v.figures["after"] < v.figures["before"], v.figures  # five logging triggers fewer per write
    done = p5.verify(demo_db, CFG, CTX, 5)
    with psycopg.connect(demo_db) as conn:
        st = tiers.tier_states(conn, CFG)[5]
        section = p5.tiers_section(conn, CFG)
        drop_row = ledger.last_step(conn, "p5_trigger_removal", "tier_5_drop", cfg=CFG)
    assert st["status"] == "verified"
    assert (
        st["improvement"]["improvement_pct"]
        == done["improvement"]["improvement_pct"]
        == v.figures["improvement_pct"]
    )
    assert section["tiers"]["tier_5"]["status"] == "verified"
    assert drop_row["status"] == "succeeded"


def test_zero_failed_application_transactions_across_all_tiers_and_rollback(demo_db):
    _phase1(demo_db)
    before = snapshot(demo_db)
    bg = Background(demo_db, publish="auto", rate=120)
    try:
        time.sleep(1.0)
        for n in sorted(EXPECTED_PER_TIER):
            with psycopg.connect(demo_db) as conn:
                tiers.backup_tier(conn, CFG, tiers.plan_tier(conn, CFG, n))
            tiers.drop_tier(demo_db, CFG, n)
            time.sleep(0.5)
        with psycopg.connect(demo_db) as conn:
            assert catalog.logging_triggers(conn, CFG) == []
        p5.rollback_all(demo_db, CFG, CTX)
        time.sleep(1.0)
    finally:
        report = bg.stop()
    assert report.failed == 0, report
    assert diff(before, snapshot(demo_db)) == {}
    with psycopg.connect(demo_db) as conn:
        assert len(catalog.logging_triggers(conn, CFG)) == 64
        assert ledger.last_step(conn, "p5_trigger_removal", "rollback", cfg=CFG)["status"] == "succeeded"


def test_sensor_failure_alert_mail_carries_the_figures(demo_db, smtp_sink, monkeypatch):
    host, port, messages = smtp_sink
    _prepare_dropped_tier(demo_db, 1, window_s=0.2)
    with psycopg.connect(demo_db) as conn:  # app writes to a tier-1 table, nobody publishes: a lost event
        conn.execute("SET ROLE service_role")
        conn.execute("INSERT INTO public.notifications DEFAULT VALUES")
        conn.commit()
    c0 = {
        "at": "2000-01-01T00:00:00+00:00",
        "tables": {t: {"ins": 0, "upd": 0, "del": 0} for t in CFG.tier(1).table_names},
    }
    time.sleep(1.2)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        c1 = perf.write_counters(conn, CFG.tier(1).table_names)
    verdict = p5.judge_event_flow(
        demo_db, CFG, 1, c0, c1, ["notification", "bulk_operation", "email"], 0.95, "alert"
    )
    assert verdict.state == "fail"
    subject, body = p5.failure_report(demo_db, CFG, 1, "alert")
    assert "tier 1" in subject and "events / writes" in body and "<td>0.0</td>" in body

    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        f"smtp://{host}:{port}?disable_ssl=true&disable_tls=true&from_email=migration@localhost",
    )
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_ALERT_EMAILS", "dba@localhost")
    from migration_airflow.alerts import send_alert

    send_alert(subject, body, {"params": {"environment": "staging"}})
    assert messages and messages[0]["to"] == ["dba@localhost"]
    assert "tier 1 sensor failed" in messages[0]["message"]["subject"]
