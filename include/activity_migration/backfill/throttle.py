"""Decide, before each chunk, whether the backfill may go on, must pause, or must stop.

gh-ost style: ``metrics`` samples the signals, this module judges them against
thresholds. Thresholds start from the run's Params and are overridden live by the
setting ``backfill_throttle`` in the state schema, re-read before every chunk, so an
operator can change them while the copy runs (``activity-migration backfill-throttle``).

- a signal above its ``max_*`` threshold: sleep ``pause_seconds``, shrink the chunk size,
  sample again (repeat until below);
- a signal above its ``critical_*`` threshold: abort the worker with ``ThrottleAbort``
  (no chunk is claimed, so nothing is left half done);
- ``paused: true``: hold (sleep and re-read) until an operator resumes;
- ``yield_ratio``: after every chunk the worker sleeps ``yield_ratio`` x the chunk's duration
  (a duty cycle), so the application's commits are not queued behind the backfill's WAL and
  CPU all the time. It works on any server (no pg_stat_statements needed); with short chunks
  (``chunk_target_seconds``) the application never waits long behind one;
- ``max_app_p95_ratio`` (default 1.5): the latency objective. ``controller.DutyController``
  moves the yield from ``yield_ratio`` by feedback on the app's write p95 over its idle
  baseline, and pauses above the objective (``None`` = off: the fixed ``yield_ratio``). A
  live override of ``yield_ratio`` pins the yield (the objective still pauses).

Every pause and abort is recorded in ``{state}.perf_samples`` (purpose ``throttle``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable, Mapping, NoReturn

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .. import ledger, metrics
from ..config import MigrationConfig
from ..errors import ConfigError, MigrationError
from .controller import (
    REBASELINE_AFTER_S,
    Decision,
    DutyController,
    LatencyEstimator,
    measure_baseline,
    read_baseline,
    record_baseline,
    remeasure_if_idle,
)

log = logging.getLogger(__name__)

SETTING_KEY = "backfill_throttle"

# signal name in metrics.snapshot -> (max_* field, critical_* field)
SIGNALS = {
    "active_backends": ("max_active_backends", "critical_active_backends"),
    "lock_waiters": ("max_lock_waiters", "critical_lock_waiters"),
    "replication_lag_s": ("max_replication_lag_s", "critical_replication_lag_s"),
    "write_latency_ms": ("max_write_latency_ms", "critical_write_latency_ms"),
}


class ThrottleAbort(MigrationError):
    """A load signal crossed its critical threshold: the worker stopped before claiming a chunk."""


@dataclass(frozen=True)
class ThrottleSettings:
    """Thresholds (``None`` = signal not checked) and pacing of the backfill."""

    max_active_backends: float | None = 50
    max_lock_waiters: float | None = 5
    max_replication_lag_s: float | None = 10.0
    max_write_latency_ms: float | None = 100.0
    critical_active_backends: float | None = None
    critical_lock_waiters: float | None = None
    critical_replication_lag_s: float | None = None
    critical_write_latency_ms: float | None = None
    pause_seconds: float = 1.0
    chunk_target_seconds: float = 0.5
    yield_ratio: float = 0.5
    max_app_p95_ratio: float | None = 1.5
    paused: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "paused":
                if not isinstance(value, bool):
                    raise ConfigError(f"throttle setting paused must be true or false, got {value!r}")
                continue
            if value is None and (f.name.startswith("max_") or f.name.startswith("critical_")):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"throttle setting {f.name} must be a number >= 0, got {value!r}")
        if not 0.1 <= self.chunk_target_seconds <= 60:
            raise ConfigError(
                f"chunk_target_seconds must be between 0.1 and 60, got {self.chunk_target_seconds!r}"
            )
        if not 0 <= self.pause_seconds <= 300:
            raise ConfigError(f"pause_seconds must be between 0 and 300, got {self.pause_seconds!r}")
        if not 0 <= self.yield_ratio <= 10:
            raise ConfigError(f"yield_ratio must be between 0 and 10, got {self.yield_ratio!r}")
        if self.max_app_p95_ratio is not None and not 1.05 <= self.max_app_p95_ratio <= 100:
            raise ConfigError(
                f"max_app_p95_ratio must be between 1.05 and 100 (or null: off), "
                f"got {self.max_app_p95_ratio!r}"
            )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def merged(self, overrides: Mapping[str, Any] | None) -> "ThrottleSettings":
        """These settings with ``overrides`` applied (unknown keys are an error, naming the key)."""
        if not overrides:
            return self
        unknown = set(overrides) - set(self.names())
        if unknown:
            raise ConfigError(f"unknown throttle setting(s) {sorted(unknown)}; known: {self.names()}")
        return replace(self, **{k: _coerce(k, v) for k, v in overrides.items()})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(name: str, value: Any) -> Any:
    """Accept CLI/JSON spellings: 'null'/'none' -> None, 'true'/'false' -> bool, numbers from strings."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("null", "none", ""):
            return None
        if v in ("true", "yes", "on"):
            return True
        if v in ("false", "no", "off"):
            return False
        try:
            return float(v) if any(c in v for c in ".e") else int(v)
        except ValueError:
            raise ConfigError(
                f"throttle setting {name} must be a number, true/false or null, got {value!r}"
            ) from None
    return value


def read_overrides(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    value = ledger.get_setting(conn, SETTING_KEY, {}, cfg=cfg)
    return dict(value) if isinstance(value, dict) else {}


def write_overrides(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    changes: Mapping[str, Any],
    *,
    by: str | None = None,
    clear: bool = False,
) -> dict[str, Any]:
    """Merge ``changes`` into the live setting (validated) and commit; returns the new overrides."""
    current = {} if clear else read_overrides(conn, cfg)
    current.update({k: _coerce(k, v) for k, v in changes.items()})
    ThrottleSettings().merged(current)  # validate before writing
    with conn.transaction():
        ledger.set_setting(conn, SETTING_KEY, current, by=by, cfg=cfg)
    return current


def record_sample(
    conn: psycopg.Connection, cfg: MigrationConfig, metric: str, value: float | None, details: dict[str, Any]
) -> None:
    with conn.transaction():
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (purpose, metric, value, details) VALUES ('throttle', %s, %s, %s)"
            ).format(sql.Identifier(cfg.state_schema, "perf_samples")),
            (metric, value, Jsonb(details)),
        )


@dataclass
class Verdict:
    settings: ThrottleSettings
    paused_s: float = 0.0
    pauses: int = 0
    shrink: bool = False
    decision: Decision | None = None
    peak_ratio: float | None = None  # the highest app latency ratio seen while waiting

    @property
    def yield_ratio(self) -> float:
        """The sleep after the chunk, in chunk durations: the controller's, else the setting."""
        return self.decision.yield_ratio if self.decision is not None else self.settings.yield_ratio


class Throttle:
    """Wait until the database may take another chunk; raise ``ThrottleAbort`` on a critical signal.

    :param base: the run's thresholds (from Params); the live setting overrides them
    :param worker: the worker id, recorded with every throttle sample
    """

    def __init__(
        self,
        cfg: MigrationConfig,
        base: ThrottleSettings,
        worker: str,
        sleep: Callable[[float], None] = time.sleep,
        dsn: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.dsn = dsn  # given: the probe's latency sampler runs on a connection of its own
        self.base = base
        self.worker = worker
        self.sleep = sleep
        self.latency = metrics.WriteLatencySampler(cfg.state_schema)
        self.baseline: dict[str, Any] | None = None
        self.estimator: LatencyEstimator | None = None
        self.controller = DutyController.starting_at(base.max_app_p95_ratio or 1.5, base.yield_ratio)
        self._overrides: dict[str, Any] = {}

    def close(self) -> None:
        """Stop the latency sampler (when one runs)."""
        if self.estimator is not None:
            self.estimator.stop_sampler()

    def current(self, conn: psycopg.Connection) -> ThrottleSettings:
        self._overrides = read_overrides(conn, self.cfg)
        return self.base.merged(self._overrides)

    def _decide(self, conn: psycopg.Connection, s: ThrottleSettings, since: float | None = None) -> Decision:
        """The controller's step for this chunk: estimate the app's p95 (from probes taken ``since``,
        when given), compare it with the objective."""
        if s.max_app_p95_ratio is None:
            return Decision("off", s.yield_ratio)
        if self.baseline is None:
            self.baseline = read_baseline(conn, self.cfg)
            if self.baseline is None:  # a worker started without the plan step: measure now
                self.baseline = measure_baseline(conn, self.cfg)
                record_baseline(conn, self.cfg, self.baseline)
            self.estimator = LatencyEstimator(
                self.cfg,
                self.worker,
                self.baseline["source"],
                commit_idle_ms=self.baseline.get("commit_p95_ms"),
            )
            if self.dsn:
                self.estimator.start_sampler(self.dsn)
        else:  # shared by the workers: one may have re-measured it
            self.baseline = read_baseline(conn, self.cfg) or self.baseline
        assert self.estimator is not None
        p95_ms = self.estimator.estimate(conn, since)
        ratio = None if p95_ms is None else p95_ms / float(self.baseline["p95_ms"])
        self.controller.objective = s.max_app_p95_ratio
        action = self.controller.update(ratio)
        if "yield_ratio" in self._overrides and action != "pause":
            return Decision("pinned", s.yield_ratio, p95_ms, ratio)
        return Decision(action, self.controller.yield_ratio, p95_ms, ratio)

    def wait_for_go(self, conn: psycopg.Connection) -> Verdict:
        """Hold while paused, abort on a critical signal, pause while a signal is over its max."""
        verdict = Verdict(settings=self.current(conn))
        latency_paused_s = 0.0
        since: float | None = None  # after a latency pause: judge on the probes taken during it
        while True:
            s = verdict.settings
            if s.paused:
                self._hold_paused(conn, verdict)
                continue
            signals = metrics.snapshot(conn, self.latency)
            critical = _crossed(signals, s, _CRITICAL)
            if critical:
                self._abort(conn, critical[0], signals)
            over = _crossed(signals, s, _MAX)
            if over:
                self._pause(conn, verdict, over[0], signals)
                continue
            verdict.decision = self._decide(conn, s, since)
            if verdict.decision.ratio is not None:
                verdict.peak_ratio = max(verdict.peak_ratio or 0.0, verdict.decision.ratio)
            if verdict.decision.action != "pause":
                if since is not None and self.estimator is not None:
                    self.estimator.forget_before(since)
                return verdict
            d = verdict.decision
            assert self.estimator is not None
            since = self.estimator.clock()
            signals["app_p95_ms"] = d.p95_ms
            self._pause(conn, verdict, ("app_p95_ratio", d.ratio, s.max_app_p95_ratio), signals)
            latency_paused_s += s.pause_seconds
            if latency_paused_s >= REBASELINE_AFTER_S and self.baseline is not None:
                self.baseline = (
                    remeasure_if_idle(conn, self.cfg, self.baseline, latency_paused_s) or self.baseline
                )
                latency_paused_s = 0.0

    def _hold_paused(self, conn: psycopg.Connection, verdict: Verdict) -> None:
        """One sleep of an operator's pause (logged and recorded every 30th time), then re-read."""
        s = verdict.settings
        if verdict.pauses == 0 or verdict.pauses % 30 == 0:
            log.warning("backfill paused by the operator (setting %s.paused=true); holding", SETTING_KEY)
            record_sample(conn, self.cfg, "paused", None, {"worker": self.worker})
        verdict.pauses += 1
        self.sleep(max(s.pause_seconds, 0.2))
        verdict.paused_s += max(s.pause_seconds, 0.2)
        verdict.settings = self.current(conn)

    def _abort(
        self, conn: psycopg.Connection, crossed: tuple[str, Any, Any], signals: dict[str, Any]
    ) -> NoReturn:
        """Record the critical signal and raise ``ThrottleAbort``."""
        name, value, limit = crossed
        record_sample(
            conn,
            self.cfg,
            f"critical_{name}",
            value,
            {"worker": self.worker, "limit": limit, "signals": signals, "action": "abort"},
        )
        raise ThrottleAbort(
            f"backfill aborted: {name}={value:g} is above the critical threshold "
            f"critical_{name}={limit:g} "
            f"(signals {signals}); no chunk was claimed, the copy resumes where it stopped when "
            "re-run "
            f"(raise the threshold with `activity-migration backfill-throttle --set "
            f"critical_{name}=...`)"
        )

    def _pause(
        self,
        conn: psycopg.Connection,
        verdict: Verdict,
        crossed: tuple[str, Any, Any],
        signals: dict[str, Any],
    ) -> None:
        """Record the signal over its max, sleep ``pause_seconds`` (chunks shrink), then re-read."""
        s = verdict.settings
        name, value, limit = crossed
        verdict.pauses += 1
        verdict.shrink = True
        record_sample(
            conn,
            self.cfg,
            name,
            value,
            {
                "worker": self.worker,
                "limit": limit,
                "signals": signals,
                "action": "pause",
                "pause_seconds": s.pause_seconds,
            },
        )
        log.warning(
            "throttling: %s=%g above max_%s=%g; pausing %.1f s and shrinking chunks",
            name,
            value,
            name,
            limit,
            s.pause_seconds,
        )
        self.sleep(s.pause_seconds)
        verdict.paused_s += s.pause_seconds
        verdict.settings = self.current(conn)


_MAX, _CRITICAL = 0, 1  # which threshold of SIGNALS' (max_* field, critical_* field) pair


def _crossed(signals: Mapping[str, Any], s: ThrottleSettings, which: int) -> list[tuple[str, Any, Any]]:
    """(signal, value, threshold) of each signal above its _MAX or _CRITICAL threshold."""
    return [
        (name, signals[name], getattr(s, pair[which]))
        for name, pair in SIGNALS.items()
        if signals[name] is not None
        and getattr(s, pair[which]) is not None
        and signals[name] > getattr(s, pair[which])
    ]
