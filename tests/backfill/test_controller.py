"""The latency controller: it slows the copy when the app's write latency rises and speeds it up
when it falls (real Postgres; the load is a real concurrent session holding a lock that the
latency probe's commit must wait for, in bursts: no mock of the database)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from activity_migration.backfill import controller
from activity_migration.backfill.controller import DutyController
from activity_migration.backfill.copier import run_worker
from activity_migration.backfill.options import BackfillParams
from activity_migration.backfill.throttle import Throttle, ThrottleSettings
from activity_migration.config import load_config

from .conftest import counts

CFG = load_config()


class LockLoad:
    """Another session that takes the probe table's lock for ``hold_s`` again and again (bursts
    of contention, as a busy application's commits queue behind the WAL flush)."""

    def __init__(self, dsn: str, hold_s: float = 0.1, gap_s: float = 0.0) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True, application_name="the-app")
        self.hold_s, self.gap_s = hold_s, gap_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.conn.transaction():
                self.conn.execute("LOCK TABLE activity_migration.backfill_latency_probe IN EXCLUSIVE MODE")
                self.conn.execute("SELECT pg_sleep(%s)", (self.hold_s,))
            time.sleep(self.gap_s)

    def __enter__(self) -> "LockLoad":
        self.thread.start()
        time.sleep(0.2)
        return self

    def end(self) -> None:
        self.stop.set()
        self.thread.join(5)
        if not self.conn.closed:
            self.conn.close()

    def __exit__(self, *exc: object) -> None:
        self.end()


def _baseline(dsn: str) -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        baseline = controller.measure_baseline(conn, CFG)
        controller.record_baseline(conn, CFG, baseline)
    return baseline


def test_duty_controller_is_aimd_on_the_ratio():
    c = DutyController.starting_at(1.5, 0.5)
    assert c.update(1.0) == "faster" and c.yield_ratio < 0.5
    y = c.yield_ratio
    assert c.update(1.3) == "slower" and c.yield_ratio > y  # between setpoint (1.2) and objective
    y = c.yield_ratio
    assert c.update(1.45) == "slower" and c.yield_ratio > y
    assert c.update(2.0) == "pause" and c.yield_ratio > 1.5
    assert c.update(None) == "hold"
    paused_at = c.yield_ratio
    assert c.update(2.0) == "pause" and c.yield_ratio == paused_at  # one halving per pause episode
    for _ in range(100):
        c.update(5.0)
        c.update(1.45)  # a new episode each time
    assert c.yield_ratio == pytest.approx(controller.MAX_YIELD)  # bounded
    for _ in range(100):
        c.update(0.5)
    assert c.yield_ratio == 0.0  # flat out when the app is idle


def test_controller_slows_under_load_and_speeds_up_when_it_falls(backfill_db):
    baseline = _baseline(backfill_db)
    assert baseline["source"] == "probe"  # this server does not load pg_stat_statements
    slept: list[float] = []
    throttle = Throttle(
        CFG,
        # an objective above this shared machine's own noise; the load below is far beyond it
        ThrottleSettings(yield_ratio=0.5, pause_seconds=0.05, max_app_p95_ratio=3.0),
        "t",
        sleep=lambda s: slept.append(s),
    )
    with psycopg.connect(backfill_db, autocommit=True) as conn:

        def decisions(n: int) -> list:
            out = []
            for _ in range(n):
                out.append(throttle.wait_for_go(conn).decision)
                time.sleep(0.02)
            return out

        quiet = decisions(8)
        yield_quiet = quiet[-1].yield_ratio
        pauses_before = len(slept)
        throttle.sleep = lambda s: (slept.append(s), time.sleep(s))
        # Decisions while the app's latency is high: once the p95 window holds the slow commits
        # the worker holds (pauses) until the latency falls, which it does when the burst of
        # load ends 2 s later; the decision that ends the hold has cut the duty cycle.
        with LockLoad(backfill_db) as load:
            threading.Timer(2.0, load.end).start()
            t0 = time.monotonic()
            after_load = None
            while after_load is None and not load.stop.is_set():
                before = len(slept)
                d = throttle.wait_for_go(conn).decision
                after_load = d if len(slept) > before else None
        paused_for = time.monotonic() - t0
        assert after_load is not None, "the controller never paused under the load"
        recovered = decisions(12)

    assert len(slept) > pauses_before, "no pause while the app's latency was far above the objective"
    assert paused_for >= 1.0  # held while loaded
    assert after_load.yield_ratio > yield_quiet  # slower after the load: duty cycle cut
    yields = [d.yield_ratio for d in recovered]
    # faster again once the latency fell (min: this shared machine's own spikes may cut it again)
    assert min(yields) < after_load.yield_ratio and yields[3] < after_load.yield_ratio
    assert sum(d.action == "faster" for d in recovered) >= 4
    assert all(d.ratio is not None and d.p95_ms is not None for d in quiet + recovered)
    with psycopg.connect(backfill_db) as conn:
        samples = conn.execute(
            "SELECT value, details FROM activity_migration.perf_samples "
            "WHERE purpose = 'throttle' AND metric = 'app_p95_ratio'"
        ).fetchall()
    assert samples and all(v > 3.0 for v, _ in samples)  # every pause recorded with its ratio


def test_worker_records_each_decision_and_copies_through_a_load_burst(backfill_db):
    baseline = _baseline(backfill_db)
    from activity_migration.backfill import planner

    with psycopg.connect(backfill_db, autocommit=True) as conn:
        planner.plan(conn, CFG, target_rows=300)
    params = BackfillParams.from_mapping(
        {"allow_without_cutoff": True, "initial_chunk_rows": 300, "lease_seconds": 1, "pause_seconds": 0.1}
    )
    with LockLoad(backfill_db):
        result: list = []
        t = threading.Thread(target=lambda: result.append(run_worker(backfill_db, CFG, "t", params)))
        t.start()
        time.sleep(2.0)  # the burst: the worker holds (paused) while the app's latency is high
        with psycopg.connect(backfill_db) as conn:
            done_during_load = conn.execute(
                "SELECT count(*) FROM activity_migration.backfill_chunks WHERE status = 'done'"
            ).fetchone()[0]
    t.join(120)
    report = result[0]
    assert counts(backfill_db)["missing"] == 0
    assert done_during_load <= 2  # at most what it copied before the first decision saw the load
    assert report.throttle_pauses >= 1 and report.max_app_latency_ratio > 1.5
    with psycopg.connect(backfill_db) as conn:
        rows = conn.execute(
            "SELECT app_p95_ms, app_latency_ratio, yield_ratio, throttle_action "
            "FROM activity_migration.backfill_chunks WHERE status = 'done' ORDER BY finished_at"
        ).fetchall()
    assert rows and all(r[0] is not None and r[1] is not None and r[3] for r in rows)
    assert {r[3] for r in rows} <= {"faster", "slower", "hold"}
    assert rows[-1][2] <= max(r[2] for r in rows)  # the yield came down after the burst
    assert baseline["p95_ms"] > 0


def test_a_lasting_load_with_nothing_copying_is_measured_as_the_new_idle(backfill_db, monkeypatch):
    """Paused long with no chunk running, the latency is the server's, not the copy's: idle is
    re-measured (higher), recorded with the previous value, and the copy goes on."""
    from activity_migration.backfill import throttle as throttle_module

    monkeypatch.setattr(throttle_module, "REBASELINE_AFTER_S", 0.5)
    first = _baseline(backfill_db)
    throttle = Throttle(CFG, ThrottleSettings(pause_seconds=0.1), "t")
    with psycopg.connect(backfill_db, autocommit=True) as conn, LockLoad(backfill_db):
        t0 = time.monotonic()
        decision = throttle.wait_for_go(conn).decision
        held = time.monotonic() - t0
        baseline = controller.read_baseline(conn, CFG)
    assert decision.action != "pause" and held < 20
    assert baseline["remeasured"] and baseline["previous_p95_ms"] == first["p95_ms"]
    assert baseline["p95_ms"] > first["p95_ms"]


def test_fewer_workers_copy_as_the_controller_slows_the_copy():
    from types import SimpleNamespace

    from activity_migration.backfill.controller import Decision, active_workers
    from activity_migration.backfill.copier import WorkerReport, _parked

    assert [active_workers(y, 2) for y in (0.0, 0.5, 1.0, 1.01, 8.0)] == [2, 2, 2, 1, 1]
    assert [active_workers(y, 4) for y in (0.0, 1 / 3, 1.0, 3.0, 8.0)] == [4, 4, 3, 2, 1]
    assert active_workers(0.0, 1) == 1

    def parked(worker: str, action: str, yield_ratio: float) -> bool:
        verdict = SimpleNamespace(decision=Decision(action, yield_ratio), yield_ratio=yield_ratio)
        return _parked(verdict, WorkerReport(worker_id=worker), 2)

    assert not parked("w0", "pause", 8.0)  # one worker always copies
    assert parked("w1", "slower", 2.0) and parked("cli-w1", "pause", 8.0)
    assert not parked("w1", "faster", 0.2)  # near full duty: both copy
    assert not parked("w1", "off", 2.0)  # a fixed yield_ratio (no controller) keeps every worker


def test_the_latency_sampler_probes_at_a_steady_cadence_on_its_own_connection(backfill_db):
    """The probe source's sampler keeps measuring between the worker's decisions (while the worker
    copies), and the estimate reads its probes instead of probing on the worker's idle backend."""
    _baseline(backfill_db)
    est = controller.LatencyEstimator(CFG, "sampler-test", "probe")
    est.start_sampler(backfill_db)
    try:
        time.sleep(1.2)
        assert len(est._window) >= 5  # ~8 probes at 0.15 s, none asked for by estimate()
        with psycopg.connect(backfill_db, autocommit=True) as conn:
            calls: list[int] = []  # the threads that probed
            own_probe = est.probe_once
            est.probe_once = lambda c: calls.append(threading.get_ident()) or own_probe(c)  # type: ignore[method-assign]
            assert est.estimate(conn) is not None
            assert threading.get_ident() not in calls  # the worker itself probed nothing
    finally:
        est.stop_sampler()
    assert est._sampler is None
    with psycopg.connect(backfill_db) as conn:
        probes = conn.execute(
            f'SELECT probes FROM "{CFG.state_schema}".backfill_latency_probe WHERE worker = %s',
            ("sampler-test",),
        ).fetchone()
    assert probes is not None and probes[0] >= 5


def test_after_a_pause_the_estimate_reads_only_the_probes_taken_since(backfill_db):
    """The probes taken while the copy ran stay in the window for seconds; judged on them the
    worker would go on pausing after the latency fell. ``since`` leaves them out."""
    _baseline(backfill_db)
    est = controller.LatencyEstimator(CFG, "since-test", "probe")
    with psycopg.connect(backfill_db, autocommit=True) as conn:
        for _ in range(controller.PROBES):
            est._append(500.0)  # taken while the copy ran: far above any probe of this idle box
        assert est.estimate(conn) == 500.0  # the window still holds them
        fresh = est.estimate(conn, since=est.clock())
    assert fresh is not None and fresh < 500.0
