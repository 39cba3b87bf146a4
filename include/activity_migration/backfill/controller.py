"""Hold the application's write latency at an objective by feedback: the backfill's duty cycle.

``max_app_p95_ratio`` (default 1.5) is the objective: the application's write p95 during the
copy over its idle p95, measured just before the copy starts (the *baseline*, setting
``backfill_latency_baseline``). Before every chunk a worker estimates the current p95 and the
controller moves the duty cycle ``d`` (copy time / (copy + sleep); the sleep after a chunk is
``yield_ratio`` = 1/d - 1 times its duration) like a TCP sender's window (AIMD):

- ratio <= setpoint (80 % of the objective): ``faster``, ``d`` grows additively (+0.05);
- setpoint < ratio <= objective: ``slower``, ``d`` shrinks multiplicatively, the more the
  nearer the ratio is to the objective (x1 at the setpoint, x0.5 at the objective);
- ratio > objective: ``pause``, ``d`` halves and the worker sleeps ``pause_seconds`` and
  measures again, until the ratio is back under the objective.

Two latency sources, chosen when the baseline is measured and kept for the run:

- ``pg_stat_statements`` (installed and loaded, with at least ``MIN_WINDOW_CALLS`` app writes in
  the baseline window): deltas of calls, total time and sum of squares of the application's
  INSERT/UPDATE/DELETE give the window's mean and stddev; p95 ~ mean + 1.645 stddev (the
  view keeps no percentiles). The view times a statement's execution, not its transaction's
  commit (the WAL flush, which the copy slows most), so the probe's sampler runs too: the
  estimate is the statements' p95 plus the probe's (a write = its statement + its commit; the
  baseline likewise, with both parts kept as ``statements_p95_ms`` and ``commit_p95_ms``);
- ``probe`` (otherwise): a committed one-row upsert in ``{state}.backfill_latency_probe``,
  timed by the worker (``PROBES`` per decision); the p95 of the probes of the last
  ``HORIZON_S`` seconds (at most ``WINDOW``).
  It waits for the WAL flush and the CPU as an application commit does, which is what the
  copy slows down (docs/throttling.md).
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import psycopg
from psycopg import sql

from .. import ledger
from ..config import MigrationConfig
from ..db import APPLICATION_NAME, connect, fetch_one, load_sql, scalar
from ..perf import statement_stats_available

log = logging.getLogger(__name__)

BASELINE_SETTING = "backfill_latency_baseline"
PROBES = 3  # probe commits per decision
WINDOW = 40  # at most this many probe latencies in the p95 ...
HORIZON_S = 3.0  # ... taken in the last seconds (the current window)
# The steady sampler: a probe every 0.15 s, the p95 over the last 6 s (40 probes: the 38th, so
# one or two stray spikes do not pause the copy on their own).
SAMPLE_EVERY_S = 0.15
SAMPLER_HORIZON_S = 6.0
BASELINE_PROBES = 100  # p95 of 100: the 95th, not the 2nd largest of a noisy few
MIN_WINDOW_CALLS = 20
Z95 = 1.645
SETPOINT = 0.8  # of the objective
REBASELINE_AFTER_S = 10.0  # latency pauses this long, with no chunk copying: re-measure idle
STEP_UP = 0.05  # additive increase of the duty cycle
MAX_YIELD = 8.0  # the slowest duty cycle: copy 1 part, sleep 8


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class LatencyEstimator:
    """The application's current write p95 in ms, from ``source`` (``probe`` or ``pg_stat_statements``)."""

    cfg: MigrationConfig
    worker: str
    source: str = "probe"
    clock: Callable[[], float] = time.perf_counter
    commit_idle_ms: float | None = None  # pg_stat_statements source: the probe's idle p95
    _window: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=WINDOW), repr=False)
    _last: tuple[float, float, float] | None = field(default=None, repr=False)
    _last_p95: float | None = field(default=None, repr=False)
    _sampler: threading.Thread | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._probe = load_sql(
            "p4_backfill/20_probe_write_latency.sql",
            probe=sql.Identifier(self.cfg.state_schema, "backfill_latency_probe"),
        )

    def probe_once(self, conn: psycopg.Connection) -> float:
        """One committed probe write (autocommit connection), its latency in ms."""
        t0 = self.clock()
        conn.execute(self._probe, {"worker": self.worker[:200]})
        return (self.clock() - t0) * 1000.0

    def _statement_totals(self, conn: psycopg.Connection) -> tuple[float, float, float]:
        row = fetch_one(
            conn, load_sql("p4_backfill/21_sum_app_write_time.sql"), {"pattern": f"%{self.cfg.state_schema}%"}
        )
        assert row is not None
        return float(row["calls"]), float(row["total_ms"]), float(row["sumsq"])

    def _statements_window(self, conn: psycopg.Connection) -> tuple[float | None, float]:
        """(p95 estimate, calls) since the previous call; None with too few calls."""
        now, before = self._statement_totals(conn), self._last
        self._last = now
        if before is None or now[0] - before[0] < 1:
            return None, 0.0
        calls = now[0] - before[0]
        mean = (now[1] - before[1]) / calls
        var = max(0.0, (now[2] - before[2]) / calls - mean * mean)
        return mean + Z95 * math.sqrt(var), calls

    def estimate(self, conn: psycopg.Connection, since: float | None = None) -> float | None:
        """The current window's p95 in ms (the previous estimate when the window has no app write).

        ``since`` (a ``clock`` time): only probes taken from then on count. After a pause the
        window still holds the probes taken while the copy ran; judged on them the worker would
        go on pausing for the window's length after the latency had fallen."""
        if self.source == "pg_stat_statements":
            value, _ = self._statements_window(conn)
            self._last_p95 = value if value is not None else self._last_p95
            return None if self._last_p95 is None else self._last_p95 + self._commit_p95(since)
        sampler = self._sampler
        if sampler is not None and sampler.is_alive():
            recent = self._recent(SAMPLER_HORIZON_S, since)
            if len(recent) >= PROBES:
                return p95(recent)
        for _ in range(PROBES):
            self._append(self.probe_once(conn))
        return p95(self._recent(HORIZON_S, since))

    def _commit_p95(self, since: float | None) -> float:
        """A commit's p95 now, in ms, from the sampler's probes (its idle value while they are too
        few; 0 without a probe baseline): pg_stat_statements times a statement's execution, not its
        transaction's commit (the WAL flush, where the copy slows the application most)."""
        if self.commit_idle_ms is None:
            return 0.0
        recent = self._recent(SAMPLER_HORIZON_S, since) if self._sampler is not None else []
        return p95(recent) if len(recent) >= PROBES else self.commit_idle_ms

    def forget_before(self, since: float) -> None:
        """Drop the probes taken before ``since`` (a pause that ended: they no longer say how the
        application fares, and would pause the next decisions again)."""
        with self._lock:
            while self._window and self._window[0][0] < since:
                self._window.popleft()

    def _recent(self, horizon_s: float, since: float | None) -> list[float]:
        now, start = self.clock(), -math.inf if since is None else since
        with self._lock:
            return [ms for at, ms in self._window if now - at <= horizon_s and at >= start]

    def _append(self, ms: float) -> None:
        with self._lock:
            self._window.append((self.clock(), ms))

    def start_sampler(self, dsn: str) -> None:
        """Probe on a connection of its own every ``SAMPLE_EVERY_S``, whatever the worker does:
        the probes then meet the copy as the application's writes do (a worker probing just
        before its own chunk finds its own backend idle and under-reads). With pg_stat_statements
        only when the baseline has the probe's idle (``commit_idle_ms``): the commit's wait."""
        if self._sampler is not None or (self.source != "probe" and self.commit_idle_ms is None):
            return
        self._stop = threading.Event()

        def run() -> None:
            try:
                with connect(dsn, autocommit=True, application_name=f"{APPLICATION_NAME} latency probe") as c:
                    while not self._stop.wait(SAMPLE_EVERY_S):
                        self._append(self.probe_once(c))
            except psycopg.Error as exc:  # the worker falls back to probing itself
                log.warning("latency sampler of %s stopped: %s", self.worker, exc)

        self._sampler = threading.Thread(target=run, name=f"latency-{self.worker}", daemon=True)
        self._sampler.start()

    def stop_sampler(self) -> None:
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join(timeout=5)
            self._sampler = None


def measure_baseline(
    conn: psycopg.Connection, cfg: MigrationConfig, *, window_s: float = 2.0, sleep=time.sleep
) -> dict[str, Any]:
    """The application's idle write p95, just before the copy (nothing of ours runs yet).

    ``BASELINE_PROBES`` probe commits first; then pg_stat_statements over ``window_s`` when usable
    and the application wrote at least ``MIN_WINDOW_CALLS`` times in it (the probes' p95 kept as
    ``commit_p95_ms``: the commit's idle wait, which the statements' times leave out), otherwise
    the probes.
    """
    est = LatencyEstimator(cfg, "baseline")
    samples = []
    for _ in range(BASELINE_PROBES):
        samples.append(est.probe_once(conn))
        sleep(0.005)
    if statement_stats_available(conn):
        est.source = "pg_stat_statements"
        est._statements_window(conn)
        sleep(window_s)
        value, calls = est._statements_window(conn)
        if value is not None and calls >= MIN_WINDOW_CALLS:  # a write = its statement + its commit
            commit = p95(samples)
            return _baseline(
                est.source, value + commit, int(calls), statements_p95_ms=value, commit_p95_ms=commit
            )
        log.info("pg_stat_statements saw %s app writes in %.1f s: measuring with the probe", calls, window_s)
    return _baseline("probe", p95(samples), len(samples), median=statistics.median(samples))


def _baseline(source: str, p95_ms: float, n: int, **extra: float) -> dict[str, Any]:
    out = {"source": source, "p95_ms": round(max(p95_ms, 0.05), 3), "samples": n}
    out.update({k: round(v, 3) for k, v in extra.items()})
    out["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return out


def remeasure_if_idle(
    conn: psycopg.Connection, cfg: MigrationConfig, current: dict[str, Any], paused_s: float
) -> dict[str, Any] | None:
    """After a long latency pause: when no chunk is being copied anywhere, the latency measured now
    is the idle latency of now. A busier server than at the start (its other load, the app's own
    growth) is not the copy's doing, and pausing cannot bring it back; so a higher idle p95
    replaces the baseline (recorded with the previous one). Returns it, or None (kept)."""
    chunks = sql.Identifier(cfg.state_schema, "backfill_chunks")
    if scalar(conn, sql.SQL("SELECT count(*) FROM {} WHERE status = 'running'").format(chunks)):
        return None  # a chunk is being copied: the latency now is not idle
    fresh = measure_baseline(conn, cfg)
    if fresh["source"] != current["source"] or fresh["p95_ms"] <= float(current["p95_ms"]):
        return None
    fresh.update(
        remeasured=True,
        previous_p95_ms=current["p95_ms"],
        reason=f"every worker paused {paused_s:.0f} s with no chunk copying; idle p95 re-measured",
    )
    record_baseline(conn, cfg, fresh)
    log.warning(
        "app write p95 stays above the objective with no chunk copying for %.0f s: idle re-measured, "
        "baseline %.2f -> %.2f ms (%s)",
        paused_s,
        float(current["p95_ms"]),
        fresh["p95_ms"],
        fresh["source"],
    )
    return fresh


def record_baseline(conn: psycopg.Connection, cfg: MigrationConfig, baseline: dict[str, Any]) -> None:
    with conn.transaction():
        ledger.set_setting(conn, BASELINE_SETTING, baseline, by="p4_backfill plan", cfg=cfg)


def read_baseline(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any] | None:
    value = ledger.get_setting(conn, BASELINE_SETTING, None, cfg=cfg)
    return value if isinstance(value, dict) and value.get("p95_ms") else None


@dataclass
class Decision:
    """What the controller chose before one chunk."""

    action: str  # faster | slower | hold | pause | pinned | off
    yield_ratio: float
    p95_ms: float | None = None
    ratio: float | None = None

    def columns(self) -> dict[str, Any]:
        """The chunk ledger's controller columns (05_finish_chunk.sql)."""
        return {
            "app_p95_ms": None if self.p95_ms is None else round(self.p95_ms, 3),
            "app_latency_ratio": None if self.ratio is None else round(self.ratio, 3),
            "yield_ratio": round(self.yield_ratio, 3),
            "throttle_action": self.action,
        }

    def describe(self) -> str:
        if self.ratio is None:
            return f"controller {self.action}, yield {self.yield_ratio:.2f}"
        return (
            f"app p95 {self.p95_ms:.1f} ms = {self.ratio:.2f}x idle -> {self.action}, "
            f"yield {self.yield_ratio:.2f}"
        )


def active_workers(yield_ratio: float, workers: int) -> int:
    """How many of ``workers`` copy at the controller's duty cycle d = 1 / (1 + yield_ratio):
    worker k (0-based) copies while d >= k / workers, so all copy at full duty and fewer as the
    controller slows the copy (one always does). Fewer backends then compete with the
    application for the cores, instead of every worker sleeping longer."""
    duty = 1.0 / (1.0 + max(yield_ratio, 0.0))
    return max(1, min(workers, math.floor(duty * workers + 1e-9) + 1))


@dataclass
class DutyController:
    """AIMD on the duty cycle d = 1 / (1 + yield_ratio), against the objective (a p95 ratio)."""

    objective: float
    duty: float
    pausing: bool = False  # the previous decision was a pause: this is the same episode

    @classmethod
    def starting_at(cls, objective: float, yield_ratio: float) -> "DutyController":
        return cls(objective, 1.0 / (1.0 + min(max(yield_ratio, 0.0), MAX_YIELD)))

    @property
    def yield_ratio(self) -> float:
        return 1.0 / self.duty - 1.0

    def update(self, ratio: float | None) -> str:
        """Move the duty cycle for this ratio; return the action."""
        if ratio is None:
            return "hold"
        setpoint = SETPOINT * self.objective
        if ratio > self.objective:
            # one halving per episode: the pause itself (no copy) is what brings the latency
            # down; halving again at each re-measure while paused would leave the copy at the
            # slowest duty cycle after any spike (measured: 5x the single statement's time)
            if not self.pausing:
                self.duty *= 0.5
            self.pausing = True
            self.duty = max(1.0 / (1.0 + MAX_YIELD), self.duty)
            return "pause"
        self.pausing = False
        if ratio > setpoint:
            self.duty *= 1.0 - 0.5 * (ratio - setpoint) / (self.objective - setpoint)
            action = "slower"
        else:
            self.duty += STEP_UP
            action = "faster"
        self.duty = min(1.0, max(1.0 / (1.0 + MAX_YIELD), self.duty))
        return action
