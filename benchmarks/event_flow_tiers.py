#!/usr/bin/env python3
"""Phase 5's sensors on the demo under its own workload: every tier, several times in a row.

Issue 24's acceptance: with ``sensor_window_seconds = 20`` and the default ``min_event_ratio``
(0.95), the five tiers pass five times in a row when nothing is lost. One run: a fresh demo
database in the state phase 5 starts from (phase 1 + phase 2), the demo workload writing at
the demo's rate and publishing like the upgraded application (``publish="auto"``). For each
round and tier, the steps of the phase-5 DAG in its order, with its sensors' poke interval:
baseline → backup → handover → readiness sensor → drop → write-cost sensor → event-flow sensor
→ done. After each round every tier is restored from its backup (the rollback), so the next
round starts again from all 64 triggers.

    .venv/bin/python benchmarks/event_flow_tiers.py [--rounds 5] [--window 20] [--rate 15]

Writes benchmarks/results/event_flow_tiers.json (every verdict's figures) and prints the
ratios per tier and round. Exit code 1 when any sensor failed or timed out.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from activity_migration.config import load_config  # noqa: E402
from activity_migration.demo.seed import seed  # noqa: E402
from activity_migration.demo.workload import run_workload  # noqa: E402
from activity_migration.ledger import RunContext  # noqa: E402
from activity_migration.phases import p1_infrastructure, p2_dual_write, p5_handover  # noqa: E402
from activity_migration.phases import p5_trigger_removal as p5  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "event_flow_tiers.json"


def _sense(poke: Callable[[], Any], interval_s: float, timeout_s: float) -> tuple[Any, int]:
    """Poke like the DAG's sensors (reschedule mode): until pass or fail, or the timeout."""
    deadline, pokes = time.monotonic() + timeout_s, 0
    while True:
        verdict = poke()
        pokes += 1
        if verdict.state != "wait" or time.monotonic() > deadline:
            return verdict, pokes
        time.sleep(interval_s)


def _one_tier(dsn: str, cfg: Any, ctx: RunContext, tier: int, args: argparse.Namespace) -> dict[str, Any]:
    w, started = float(args.window), time.monotonic()
    p5.baseline(dsn, cfg, ctx, tier, window_s=w)
    p5.backup(dsn, cfg, ctx, tier)
    p5_handover.handover(dsn, cfg, ctx, tier)
    sensors: dict[str, Any] = {}
    pokes = {
        "readiness": lambda: p5_handover.readiness_poke(
            dsn, cfg, ctx, tier, window_s=w, min_ratio=args.min_event_ratio
        ),
        "write_cost": lambda: p5.performance_poke(
            dsn, cfg, ctx, tier, window_s=w, max_regression_pct=args.max_regression_pct, probe_writes=100
        ),
        "event_flow": lambda: p5.event_flow_poke(
            dsn, cfg, ctx, tier, window_s=w, min_ratio=args.min_event_ratio
        ),
    }
    for name, poke in pokes.items():
        verdict, n = _sense(poke, args.poke_interval, args.timeout_minutes * 60)
        sensors[name] = {
            "state": verdict.state,
            "message": verdict.message,
            "pokes": n,
            "figures": verdict.figures,
        }
        if verdict.state != "pass":
            break
        if name == "readiness":
            p5.apply(dsn, cfg, ctx, tier)
    if sensors.get("event_flow", {}).get("state") == "pass":
        p5.verify(dsn, cfg, ctx, tier)
    flow = (sensors.get("event_flow") or {}).get("figures") or {}
    return {
        "tier": tier,
        "passed": all(s["state"] == "pass" for s in sensors.values()) and len(sensors) == 3,
        "seconds": round(time.monotonic() - started, 1),
        "ratio": flow.get("ratio"),
        "writes": flow.get("writes_total"),
        "events": flow.get("events"),
        "tables": {
            t: {k: v[k] for k in ("writes", "events", "ratio")} for t, v in (flow.get("tables") or {}).items()
        },
        "sensors": sensors,
    }


def _rounds(dsn: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    cfg = load_config()
    out: list[dict[str, Any]] = []
    for r in range(1, args.rounds + 1):
        for t in cfg.tiers:
            ctx = RunContext(
                environment="staging", mode="demo", dag_run_id=f"event-flow-bench-r{r}-t{t.tier}"
            )
            res = _one_tier(dsn, cfg, ctx, t.tier, args)
            res["round"] = r
            out.append(res)
            print(
                f"round {r} tier {t.tier}: {'pass' if res['passed'] else 'FAIL'} ratio {res['ratio']} "
                f"({res['events']} events / {res['writes']} writes) in {res['seconds']} s",
                flush=True,
            )
            if not res["passed"]:
                print(json.dumps(res["sensors"], indent=1, default=str)[:3000], flush=True)
        p5.rollback_all(
            dsn, cfg, RunContext(environment="staging", mode="demo", dag_run_id=f"event-flow-bench-r{r}")
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin DSN")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--window", type=int, default=20, help="sensor_window_seconds")
    ap.add_argument("--min-event-ratio", type=float, default=0.95, help="the DAG's default")
    ap.add_argument("--max-regression-pct", type=float, default=10.0, help="the DAG's default")
    ap.add_argument("--poke-interval", type=float, default=10.0, help="the DAG sensors' poke interval (s)")
    ap.add_argument("--timeout-minutes", type=float, default=30.0, help="sensor_timeout_minutes")
    ap.add_argument("--rate", type=float, default=15.0, help="workload tx/s (make demo's rate)")
    ap.add_argument("--rows", type=int, default=20000, help="activity history rows to seed")
    args = ap.parse_args()

    name = f"amt_flow_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.dsn, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(args.dsn, dbname=name)
    stop, holder = threading.Event(), {}
    try:
        seed(dsn, rows=args.rows)
        cfg, ctx = (
            load_config(),
            RunContext(environment="staging", mode="demo", dag_run_id="event-flow-bench"),
        )
        p1_infrastructure.apply(dsn, cfg, ctx)
        p2_dual_write.apply(dsn, cfg, ctx)
        worker = threading.Thread(
            target=lambda: holder.update(
                report=run_workload(dsn, seconds=86400, rate=args.rate, connections=2, stop_event=stop)
            ),
            daemon=True,
        )
        worker.start()
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        results = _rounds(dsn, args)
    finally:
        stop.set()
        time.sleep(1)
        with psycopg.connect(args.dsn, autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    report = holder.get("report")
    summary = {
        "started": started,
        "settings": vars(args) | {"dsn": "(admin DSN redacted)"},
        "workload": {
            "ok": getattr(report, "transactions_ok", None),
            "failed": getattr(report, "failed", None),
        },
        "passed": sum(r["passed"] for r in results),
        "runs": len(results),
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=1, default=str))
    print(f"\nevent-flow ratio per tier and round (window {args.window} s, minimum {args.min_event_ratio}):")
    print("tier | " + " | ".join(f"round {r}" for r in range(1, args.rounds + 1)))
    for t in sorted({r["tier"] for r in results}):
        cells = [f"{r['ratio']} ({r['events']}/{r['writes']})" for r in results if r["tier"] == t]
        print(f"{t} | " + " | ".join(cells))
    print(
        f"\n{summary['passed']}/{summary['runs']} tier runs passed; "
        f"workload failed tx: {summary['workload']['failed']}"
    )
    print(f"figures: {RESULTS.relative_to(ROOT)}")
    return 0 if summary["passed"] == summary["runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
