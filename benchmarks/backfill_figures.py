"""Figures of one backfill benchmark run: the controller's per-chunk record, the index build, a
JSON file and an SVG plot (app write latency and copy rate over time) under benchmarks/results/.

Used by backfill_vs_insert_select.py. No plotting library: the SVG is written by hand.
"""

from __future__ import annotations

import json
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


def _polyline(points: list[tuple[float, float]], box: tuple[float, float, float, float], color: str) -> str:
    x0, y0, w, h = box
    if not points:
        return ""
    xmax = max(p[0] for p in points) or 1.0
    ymax = max(p[1] for p in points) or 1.0
    coords = " ".join(f"{x0 + w * x / xmax:.1f},{y0 + h - h * y / ymax:.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{coords}"/>'


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
    per_chunk = result.get("per_chunk") or []
    p95 = [(c["t_s"], c["app_p95_ms"]) for c in per_chunk if c["app_p95_ms"] is not None]
    ratio = [(c["t_s"], c["ratio"]) for c in per_chunk if c["ratio"] is not None]
    rate = _rate(per_chunk)
    base = (result.get("controller_baseline") or {}).get("p95_ms")
    peak = max((r for _, r in rate), default=0.0)
    title = (
        f"{result['rows']} rows, {result['runner']} runner, {result.get('date')}: backfill "
        f"{result.get('backfill_s')} s vs INSERT … SELECT {result.get('baseline_s')} s "
        f"(ratio {result.get('ratio')}); workload p95 {result.get('workload_idle_p95_ms')} → "
        f"{result.get('workload_during_p95_ms')} ms ({result.get('p95_ratio')}×)"
    )
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="520" font-family="sans-serif" '
        'font-size="12">',
        '<rect width="900" height="520" fill="white"/>',
        f'<text x="10" y="20">{title}</text>',
        f'<text x="60" y="50">controller probe p95 per chunk (ms, red; idle baseline {base} ms) '
        "and ratio to idle (blue, scaled)</text>",
        '<rect x="60" y="60" width="800" height="180" fill="none" stroke="#999"/>',
        _polyline(p95, (60, 60, 800, 180), "#c0392b"),
        _polyline(ratio, (60, 60, 800, 180), "#2e86c1"),
        f'<text x="60" y="280">copy rate (rows/s in 2 s buckets; peak {peak:.0f}) over the copy</text>',
        '<rect x="60" y="290" width="800" height="180" fill="none" stroke="#999"/>',
        _polyline(rate, (60, 290, 800, 180), "#27ae60"),
        f'<text x="60" y="500">max ratio {result.get("controller_max_ratio")}, mean '
        f"{result.get('controller_mean_ratio')}, actions {result.get('controller_actions')}</text>",
        "</svg>",
    ]
    path.write_text("\n".join(p for p in parts if p) + "\n")


def save(result: dict[str, Any]) -> Path:
    """Write ``backfill_<rows>_<runner>_<date>.json`` and ``.svg`` under benchmarks/results/."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"backfill_{result['rows']}_{result['runner']}_{result.get('date')}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    write_svg(stem.with_suffix(".svg"), result)
    return stem
