"""Kill the copy at random points (SIGKILL of the worker process, pg_terminate_backend of its
connection), re-run each time: nothing lost, nothing duplicated, the chunk ledger consistent.

Each run is the real CLI (``activity-migration backfill``) in a subprocess, with a 1 s lease
so a chunk left 'running' by a dead worker is taken over quickly. When a run completes before
being killed, the state is checked, the backfill rolled back, and the killing goes on, so
at least 20 kills land while rows are being copied.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import psycopg

from activity_migration.config import load_config
from activity_migration.phases import p4_backfill

from .conftest import counts, make_backfill_db

ROWS = 30_000
KILLS = 22


def _cli(dsn: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "activity_migration.cli",
            "backfill",
            "--dsn",
            dsn,
            "--workers",
            "2",
            "--lease-seconds",
            "1",
            "--initial-chunk-rows",
            "1500",
            "--chunk-target-seconds",
            "0.5",
            "--allow-without-cutoff",
            "--environment",
            "staging",
            "--no-check",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _terminate(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True, application_name="killer") as conn:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() "
                "AND application_name LIKE 'activity-migration backfill%'"
            ).fetchall()
        )


def _assert_consistent(dsn: str) -> dict:
    c = counts(dsn)
    assert c["events"] == c["distinct_legacy"], f"duplicated events: {c}"
    assert c["ledger_copied"] == c["backfill_events"], f"chunk ledger disagrees with events: {c}"
    with psycopg.connect(dsn) as conn:
        q_ledger, q_rows = conn.execute(
            "SELECT (SELECT coalesce(sum(rows_quarantined), 0) FROM activity_migration.backfill_chunks "
            "WHERE status = 'done'), (SELECT count(*) FROM activity_migration.quarantine)"
        ).fetchone()
        assert q_ledger == q_rows, f"chunk ledger says {q_ledger} quarantined, quarantine holds {q_rows}"
        chunks = conn.execute(
            "SELECT lo, hi FROM activity_migration.backfill_chunks ORDER BY lo NULLS FIRST"
        ).fetchall()
    if chunks:  # ranges stay contiguous through splits: open ends, each hi is the next lo
        assert chunks[0][0] is None and chunks[-1][1] is None
        los = sorted((lo for lo, _ in chunks[1:]), key=_keyorder)
        his = sorted((hi for _, hi in chunks[:-1]), key=_keyorder)
        assert los == his, "chunk ranges have gaps or overlaps"
    return c


def _keyorder(v: str):
    return (len(v), v) if v.isdigit() else v


def test_random_kills_lose_and_duplicate_nothing(fresh_db):
    dsn = make_backfill_db(fresh_db, ROWS, "uuid")
    with psycopg.connect(dsn, autocommit=True) as conn:  # a few bad rows, so the quarantine is in play
        conn.execute(
            "INSERT INTO public.activity_logs (action, entity_type, created_at, metadata) "
            "SELECT 'created', 'spaceship', now(), '{}' FROM generate_series(1, 25)"
        )
        conn.execute(
            "INSERT INTO public.activity_logs (action, entity_type, created_at, metadata) "
            "SELECT 'created', 'user', now(), '[1]' FROM generate_series(1, 25)"
        )
    rng = random.Random(int(os.environ.get("KILL_SEED", "4242")))
    kills = {"sigkill": 0, "terminate": 0}
    completions = 0
    attempts = 0
    cfg = load_config()
    per_mode = KILLS // 2
    while min(kills.values()) < per_mode and attempts < 120:
        attempts += 1
        # the mode with fewer landed kills goes next: a run that completes before its kill
        # must not starve one mode (a fast machine finishes many runs inside the window)
        mode = min(kills, key=lambda m: (kills[m], m))
        proc = _cli(dsn)
        time.sleep(rng.uniform(0.5, 2.2))
        killed = False
        if mode == "sigkill":
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed = True
        else:
            # the worker may still be importing or between connections: retry briefly
            for _ in range(20):
                if proc.poll() is not None:
                    break
                if _terminate(dsn) > 0:
                    killed = True
                    break
                time.sleep(0.05)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("a backfill run did not end within 60 s after its connection was terminated")
        if killed:
            kills[mode] += 1
        _assert_consistent(dsn)
        if proc.returncode == 0:  # completed before the kill: check, roll back, go on
            completions += 1
            c = _assert_consistent(dsn)
            assert c["missing"] == 0 and c["chunks_not_done"] == 0
            p4_backfill.rollback(dsn, cfg)
            assert counts(dsn)["events"] == 0
    print(f"kills {kills}, completed runs {completions}, attempts {attempts}")
    assert min(kills.values()) >= per_mode, kills
    final = _cli(dsn)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err[-2000:]
    c = _assert_consistent(dsn)
    assert c["missing"] == 0 and c["chunks_not_done"] == 0
    assert c["events"] == ROWS and c["quarantined"] == 50
    assert p4_backfill.check_zero_loss(dsn, cfg)["missing"] == 0
