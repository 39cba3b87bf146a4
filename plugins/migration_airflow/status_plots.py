"""The status page's two small plots, drawn on the server as inline SVG (no script, no external
asset): the backfill's copy rate and the application's write p95 over time, and each tier's
write cost with its triggers and after their drop. The figures come from the state schema
(backfill_chunks, perf_samples); a plot with nothing to show is not drawn."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from activity_migration.config import MigrationConfig
from activity_migration.db import fetch_all, load_sql
from activity_migration.ledger import state_table

TIMELINE_BUCKETS = 40
WIDTH, HEIGHT, PAD = 520, 150, 34


def backfill_timeline(conn, cfg: MigrationConfig) -> list[dict[str, Any]]:
    """The done chunks in equal slices of the copy: seconds from its start, rows/s, app p95 (ms)."""
    q = load_sql("airflow_ui/08_select_backfill_timeline.sql", chunks=state_table(cfg, "backfill_chunks"))
    rows = fetch_all(conn, q, {"buckets": TIMELINE_BUCKETS})
    return [
        {
            "t_s": round(r["bucket"] * r["bucket_seconds"], 1),
            "rows_per_s": round(r["rows_done"] / r["bucket_seconds"], 1),
            "app_p95_ms": None if r["app_p95_ms"] is None else round(r["app_p95_ms"], 2),
        }
        for r in rows
    ]


def tier_write_cost(conn, cfg: MigrationConfig) -> list[dict[str, Any]]:
    """Per tier: write cost (ms) with the triggers and after the drop, and how it was measured."""
    q = load_sql("airflow_ui/09_select_tier_write_cost.sql", samples=state_table(cfg, "perf_samples"))
    tiers: dict[int, dict[str, Any]] = {}
    for r in fetch_all(conn, q):
        t = tiers.setdefault(r["tier"], {"tier": r["tier"], "before_ms": None, "after_ms": None})
        t["before_ms" if r["purpose"] == "baseline" else "after_ms"] = round(r["ms"], 3)
        t["method"] = r["method"]
    return [tiers[k] for k in sorted(tiers)]


def _scale(values: list[float], span: float) -> float:
    top = max(values, default=0.0)
    return span / top if top > 0 else 0.0


def _polyline(xs: list[float], ys: list[float], sx: float, sy: float, css: str) -> str:
    pts = " ".join(f"{PAD + x * sx:.1f},{HEIGHT - PAD - y * sy:.1f}" for x, y in zip(xs, ys))
    return f'<polyline class="{css}" fill="none" points="{pts}"/>'


def _frame(title: str, body: str, labels: str) -> Markup:
    axis = (
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 8}" y2="{HEIGHT - PAD}"/>'
        f'<line class="axis" x1="{PAD}" y1="8" x2="{PAD}" y2="{HEIGHT - PAD}"/>'
    )
    return Markup(
        f'<svg class="plot" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
        f"<title>{escape(title)}</title>{axis}{body}{labels}</svg>"
    )


def backfill_svg(points: list[dict[str, Any]]) -> Markup | None:
    """Copy rate (rows/s, left scale) and app write p95 (ms, right scale) against time."""
    if len(points) < 2:
        return None
    xs = [p["t_s"] for p in points]
    sx = _scale(xs, WIDTH - PAD - 16)
    rates = [p["rows_per_s"] for p in points]
    body = _polyline(xs, rates, sx, _scale(rates, HEIGHT - PAD - 12), "rate")
    lat = [(p["t_s"], p["app_p95_ms"]) for p in points if p["app_p95_ms"] is not None]
    right = ""
    if len(lat) >= 2:
        ys = [y for _, y in lat]
        body += _polyline([x for x, _ in lat], ys, sx, _scale(ys, HEIGHT - PAD - 12), "latency")
        right = (
            f'<text class="lat" x="{WIDTH - 8}" y="12" text-anchor="end">app p95 max {max(ys):g} ms</text>'
        )
    labels = (
        f'<text x="{PAD + 4}" y="12">copy max {max(rates):,.0f} rows/s</text>{right}'
        f'<text x="{WIDTH - 8}" y="{HEIGHT - 8}" text-anchor="end">{xs[-1]:,.0f} s</text>'
        f'<text x="{PAD}" y="{HEIGHT - 8}">0 s</text>'
    )
    return _frame("Backfill: copy rate and application write p95 over time", body, labels)


def tiers_svg(rows: list[dict[str, Any]]) -> Markup | None:
    """Bars per tier: write cost with the triggers (before) and after the drop."""
    rows = [r for r in rows if r["before_ms"] is not None]
    if not rows:
        return None
    values = [v for r in rows for v in (r["before_ms"], r["after_ms"]) if v is not None]
    sy = _scale(values, HEIGHT - PAD - 16)
    slot = (WIDTH - PAD - 16) / len(rows)
    bars, bar_w = [], min(28.0, slot / 3)
    for i, r in enumerate(rows):
        x0 = PAD + i * slot + slot / 2 - bar_w
        for j, (key, css) in enumerate((("before_ms", "before"), ("after_ms", "after"))):
            if r[key] is None:
                continue
            h = r[key] * sy
            bars.append(
                f'<rect class="{css}" x="{x0 + j * bar_w:.1f}" y="{HEIGHT - PAD - h:.1f}" '
                f'width="{bar_w - 2:.1f}" height="{h:.1f}"><title>tier {r["tier"]} {css}: '
                f"{r[key]:g} ms</title></rect>"
            )
        bars.append(
            f'<text x="{x0 + bar_w:.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle">tier {r["tier"]}</text>'
        )
    labels = f'<text x="{PAD + 4}" y="12">ms per write (max {max(values):g})</text>'
    return _frame("Write cost per tier: with the triggers and after the drop", "".join(bars), labels)


def plots(conn, cfg: MigrationConfig) -> dict[str, Any]:
    """The figures behind both plots (for the JSON route too) and the SVGs (None when empty)."""
    timeline, tier_rows = backfill_timeline(conn, cfg), tier_write_cost(conn, cfg)
    return {
        "backfill_timeline": timeline,
        "tier_write_cost": tier_rows,
        "backfill_svg": backfill_svg(timeline),
        "tiers_svg": tiers_svg(tier_rows),
    }
