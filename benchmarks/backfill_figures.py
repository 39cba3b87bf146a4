"""Figures of one backfill benchmark run: the controller's per-chunk record, the index build, a
JSON file and an SVG plot (app write latency and copy rate over time) under benchmarks/results/.

Used by backfill_vs_insert_select.py. No plotting library: the SVG is written by hand.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg

RESULTS = Path(__file__).resolve().parent / "results"


def controller_figures(dsn: str) -> dict[str, Any]:
    """Baseline, per-chunk decisions and the index build step, from the state schema."""
    with psycopg.connect(dsn) as conn:
        baseline = conn.execute(
            "SELECT value FROM activity_migration.settings WHERE key = 'backfill_latency_baseline'"
        ).fetchone()
        chunks = conn.execute(
            "SELECT extract(epoch FROM started_at - min(started_at) OVER ())::float8, "
            "extract(epoch FROM finished_at - started_at)::float8, rows_copied + rows_quarantined, "
            "app_p95_ms, app_latency_ratio, yield_ratio, throttle_action "
            "FROM activity_migration.backfill_chunks WHERE status = 'done' ORDER BY started_at"
        ).fetchall()
        build = conn.execute(
            "SELECT details FROM activity_migration.phase_ledger WHERE phase = 'p4_backfill' "
            "AND step = 'build_indexes' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    ratios = [c[4] for c in chunks if c[4] is not None]
    actions: dict[str, int] = {}
    for c in chunks:
        actions[c[6] or "none"] = actions.get(c[6] or "none", 0) + 1
    return {
        "controller_baseline": baseline[0] if baseline else None,
        "controller_mean_ratio": round(sum(ratios) / len(ratios), 2) if ratios else None,
        "controller_max_ratio": round(max(ratios), 2) if ratios else None,
        "controller_actions": actions,
        "index_build": build[0] if build else None,
        "per_chunk": [
            {
                "t_s": round(c[0], 2),
                "duration_s": round(c[1], 3),
                "rows": c[2],
                "app_p95_ms": c[3],
                "ratio": c[4],
                "yield": c[5],
                "action": c[6],
            }
            for c in chunks
        ],
    }


def _polyline(
    points: list[tuple[float, float]],
    box: tuple[float, float, float, float],
    color: str,
    xmax: float,
    ymax: float,
    dash: str = "",
) -> str:
    x0, y0, w, h = box
    if not points:
        return ""
    coords = " ".join(
        f"{x0 + w * x / (xmax or 1.0):.1f},{y0 + h - h * min(y, ymax) / (ymax or 1.0):.1f}" for x, y in points
    )
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline fill="none" stroke="{color}" stroke-width="1.5"{extra} points="{coords}"/>'


def _panel(y: int, label: str, lines: list[str]) -> list[str]:
    return [
        f'<text x="60" y="{y - 8}">{label}</text>',
        f'<rect x="60" y="{y}" width="800" height="130" fill="none" stroke="#999"/>',
        *lines,
    ]


def _rate(per_chunk: list[dict[str, Any]], bucket_s: float = 2.0) -> list[tuple[float, float]]:
    """Rows per second in buckets of ``bucket_s`` (each chunk's rows spread over its duration)."""
    if not per_chunk:
        return []
    end = max(c["t_s"] + c["duration_s"] for c in per_chunk)
    buckets = [0.0] * (int(end / bucket_s) + 1)
    for c in per_chunk:
        buckets[min(len(buckets) - 1, int((c["t_s"] + c["duration_s"]) / bucket_s))] += c["rows"]
    return [(i * bucket_s, n / bucket_s) for i, n in enumerate(buckets)]


def write_svg(path: Path, result: dict[str, Any]) -> None:
    """Three panels over the copy's seconds: the controller's ratio (objective dashed), its yield,
    the copy rate."""
    per_chunk = result.get("per_chunk") or []
    ratio = [(c["t_s"], c["ratio"]) for c in per_chunk if c["ratio"] is not None]
    yields = [(c["t_s"], c["yield"]) for c in per_chunk if c["yield"] is not None]
    rate = _rate(per_chunk)
    end = max([c["t_s"] + c["duration_s"] for c in per_chunk] or [1.0])
    base = result.get("controller_baseline") or {}
    # 'off' (no controller) draws the default objective's line for scale; a number draws itself
    setting = result.get("max_app_p95_ratio")
    objective = float(setting) if isinstance(setting, (int, float)) else 1.5
    rmax = max([objective * 1.5] + [r for _, r in ratio])
    ymax = max([1.0] + [y for _, y in yields])
    peak = max((r for _, r in rate), default=0.0)
    title = (
        f"{result['rows']} rows, {result['runner']} runner, {result.get('date')}: backfill "
        f"{result.get('backfill_s')} s vs INSERT … SELECT {result.get('baseline_s')} s "
        f"(ratio {result.get('ratio')}); workload p95 {result.get('workload_idle_p95_ms')} → "
        f"{result.get('workload_during_p95_ms')} ms ({result.get('p95_ratio')}×)"
    )
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="560" font-family="sans-serif" '
        'font-size="12">',
        '<rect width="900" height="560" fill="white"/>',
        f'<text x="10" y="20">{title}</text>',
        *_panel(
            50,
            f"app write p95 / idle p95 per chunk, from the {base.get('source')} "
            f"(idle {base.get('p95_ms')} ms; 0 … {rmax:.2f}; dashed: objective {objective:g}, 1.0)",
            [
                _polyline([(0, objective), (end, objective)], (60, 50, 800, 130), "#999", end, rmax, "6,4"),
                _polyline([(0, 1.0), (end, 1.0)], (60, 50, 800, 130), "#ccc", end, rmax, "2,4"),
                _polyline(ratio, (60, 50, 800, 130), "#c0392b", end, rmax),
            ],
        ),
        *_panel(
            220,
            f"yield ratio chosen before each chunk (sleep / chunk duration; 0 … {ymax:.1f})",
            [_polyline(yields, (60, 220, 800, 130), "#d68910", end, ymax)],
        ),
        *_panel(
            390,
            f"copy rate, rows/s in 2 s buckets (0 … {peak:.0f}), over {end:.1f} s of copy",
            [_polyline(rate, (60, 390, 800, 130), "#27ae60", end, peak or 1.0)],
        ),
        f'<text x="60" y="545">controller: max ratio {result.get("controller_max_ratio")}, mean '
        f"{result.get('controller_mean_ratio')}, actions {result.get('controller_actions')}; index build "
        f"{(result.get('index_build') or {}).get('seconds')} s (counted in the backfill)</text>",
        "</svg>",
    ]
    path.write_text("\n".join(p for p in parts if p) + "\n")


def save(result: dict[str, Any]) -> Path:
    """Write the figures (``backfill_<rows>_<runner>_objective-<x>_<time>``, .json and .svg)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    objective = result.get("max_app_p95_ratio") or "default"
    stem = RESULTS / (
        f"backfill_{result['rows']}_{result['runner']}_objective-{objective}_{time.strftime('%Y-%m-%dT%H%M')}"
    )
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    write_svg(stem.with_suffix(".svg"), result)
    return stem
