"""Throttling: a threshold crossed pauses (and is recorded), paused holds, critical aborts."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from activity_migration import metrics
from activity_migration.backfill.copier import run_worker
from activity_migration.backfill.options import BackfillParams
from activity_migration.backfill.throttle import ThrottleAbort, write_overrides
from activity_migration.config import load_config

from .conftest import counts


def _params(**kw) -> BackfillParams:
    return BackfillParams.from_mapping(
        {
            "allow_without_cutoff": True,
            "initial_chunk_rows": 500,
            "lease_seconds": 1,
            "pause_seconds": 0.2,
            **kw,
        }
    )


@pytest.fixture
def busy_backend(backfill_db):
    """Another application's session running a statement (an active backend) for a while."""
    conn = psycopg.connect(backfill_db, autocommit=True, application_name="the-app")

    def sleep():
        try:
            conn.execute("SELECT pg_sleep(6)")
        except psycopg.Error:
            pass

    t = threading.Thread(target=sleep, daemon=True)
    t.start()
    time.sleep(0.3)
    yield
    try:
        conn.cancel()
    except psycopg.Error:
        pass
    t.join(5)
    conn.close()


def _throttle_samples(dsn):
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT metric, value, details FROM activity_migration.perf_samples "
            "WHERE purpose = 'throttle' ORDER BY id"
        ).fetchall()


def _plan(dsn):
    from activity_migration.backfill import planner

    with psycopg.connect(dsn, autocommit=True) as conn:
        planner.plan(conn, load_config(), target_rows=500)


def _set(dsn, **changes):
    with psycopg.connect(dsn, autocommit=True) as conn:
        write_overrides(conn, load_config(), changes, by="test")


def test_metrics_sample_without_pg_stat_statements(backfill_db, busy_backend):
    with psycopg.connect(backfill_db, autocommit=True) as conn:
        snap = metrics.snapshot(conn, metrics.WriteLatencySampler("activity_migration"))
    assert snap["active_backends"] >= 1 and snap["lock_waiters"] == 0
    assert snap["replication_lag_s"] is None  # no replicas here
    # this server does not load pg_stat_statements: the signal is skipped, not an error
    assert snap["write_latency_ms"] is None


def test_threshold_zero_pauses_until_raised(backfill_db, busy_backend):
    _plan(backfill_db)
    _set(backfill_db, max_active_backends=0)
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(r=run_worker(backfill_db, load_config(), "t", _params()))
    )
    worker.start()
    deadline = time.time() + 5
    while time.time() < deadline and not _throttle_samples(backfill_db):
        time.sleep(0.1)
    samples = _throttle_samples(backfill_db)
    assert samples and samples[0][0] == "active_backends" and samples[0][2]["action"] == "pause"
    assert counts(backfill_db)["events"] == 0  # nothing copied while throttled
    _set(backfill_db, max_active_backends=None)  # operator lifts it, live
    worker.join(20)
    assert not worker.is_alive()
    assert result["r"].throttle_pauses >= 1 and counts(backfill_db)["missing"] == 0


def test_paused_holds_the_worker_until_resumed(backfill_db):
    _plan(backfill_db)
    _set(backfill_db, paused=True)
    worker = threading.Thread(target=run_worker, args=(backfill_db, load_config(), "t", _params()))
    worker.start()
    time.sleep(1.5)
    assert worker.is_alive() and counts(backfill_db)["events"] == 0
    assert any(s[0] == "paused" for s in _throttle_samples(backfill_db))
    _set(backfill_db, paused=False)
    worker.join(20)
    assert not worker.is_alive() and counts(backfill_db)["missing"] == 0


def test_critical_threshold_aborts_with_a_clear_error(backfill_db, busy_backend):
    _plan(backfill_db)
    _set(backfill_db, critical_active_backends=0)
    with pytest.raises(ThrottleAbort, match="critical_active_backends"):
        run_worker(backfill_db, load_config(), "t", _params())
    c = counts(backfill_db)
    assert c["events"] == 0
    with psycopg.connect(backfill_db) as conn:  # no chunk left claimed
        assert (
            conn.execute(
                "SELECT count(*) FROM activity_migration.backfill_chunks WHERE status = 'running'"
            ).fetchone()[0]
            == 0
        )
    assert any(s[2].get("action") == "abort" for s in _throttle_samples(backfill_db))


def test_yield_ratio_sleeps_after_each_chunk_in_proportion(backfill_db):
    """The duty cycle: after every chunk the worker sleeps yield_ratio x the chunk's duration."""
    from activity_migration.backfill.throttle import ThrottleSettings
    from activity_migration.errors import ConfigError

    with pytest.raises(ConfigError, match="yield_ratio"):
        ThrottleSettings(yield_ratio=-1)
    assert BackfillParams().throttle.yield_ratio == 0.5  # on by default (docs/throttling.md)
    _plan(backfill_db)
    # the fixed duty cycle: the latency controller off (max_app_p95_ratio empty)
    flat = run_worker(backfill_db, load_config(), "t", _params(yield_ratio=0, max_app_p95_ratio=None))
    assert flat.yielded_s == 0 and flat.chunks_done >= 2 and counts(backfill_db)["missing"] == 0
    with psycopg.connect(backfill_db, autocommit=True) as conn:  # copy again from scratch
        conn.execute("DELETE FROM public.events")
        conn.execute("DELETE FROM activity_migration.backfill_chunks")
    _plan(backfill_db)
    _set(backfill_db, yield_ratio=2)  # live override, as an operator would
    slow = run_worker(backfill_db, load_config(), "t", _params(yield_ratio=0, max_app_p95_ratio=None))
    assert counts(backfill_db)["missing"] == 0
    busy = slow.elapsed_s - slow.yielded_s
    assert slow.yielded_s > 0 and slow.yielded_s >= 1.0 * busy  # ~2x the copying time (not 0)
