"""The outcome report as one self-contained HTML page: tables and hand-written inline SVG plots, no
script, no stylesheet or font from elsewhere (it opens offline, from a file or a mail)."""

from __future__ import annotations

from html import escape
from typing import Any

from ..ledger import PHASES

TIER_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
CSS = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:4px "
    "8px;text-align:left}"
    "th{background:#f3f3f3}.num{text-align:right}.bad{color:#b00020;font-weight:600}.ok{color:#1b7a1b}"
    ".na{color:#7a5b00}svg.plot{border:1px solid #ddd;background:#fff;margin:8px 0}.note{color:#555}"
)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return f"{text} {unit}".strip()


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} %"


def _cls(p: dict[str, Any]) -> str:
    return "na" if p["reached"] is None else ("ok" if p["reached"] else "bad")


def promised_table(promises: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr class='promise-row' data-key='{p['key']}'><td>{escape(p['promise'])}</td>"
        f"<td class='num'>{_fmt(p['before'], p['unit'])}</td>"
        f"<td class='num'>{_fmt(p['after'], p['unit'])}</td>"
        f"<td class='num'>{_pct(p['change_pct'])}</td><td class='{_cls(p)}'>{escape(p['verdict'])}</td>"
        f"<td class='note'>{escape(p['method'])}</td></tr>"
        for p in promises
    )
    return _table("promised", ("promised", "before", "after", "change", "verdict", "method"), rows)


def _table(table_id: str, headers: tuple[str, ...], rows: str) -> str:
    """A table of the report: one header row, then ``rows`` (already HTML)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table id='{table_id}'><tr>{head}</tr>{rows}</table>"


def _axis(width: int, height: int, pad: int, y_max: float, unit: str) -> str:
    parts = [
        f"<line x1='{pad}' y1='{height - pad}' x2='{width - 10}' y2='{height - pad}' stroke='#444'/>",
        f"<line x1='{pad}' y1='10' x2='{pad}' y2='{height - pad}' stroke='#444'/>",
    ]
    for i in range(5):
        v = y_max * i / 4
        y = height - pad - (height - pad - 10) * i / 4
        parts.append(
            f"<text x='{pad - 6}' y='{y + 4:.1f}' font-size='11' text-anchor='end'>{v:.3g}</text>"
            f"<line x1='{pad}' y1='{y:.1f}' x2='{width - 10}' y2='{y:.1f}' stroke='#eee'/>"
        )
    parts.append(
        f"<text x='12' y='{height / 2:.0f}' font-size='11' transform='rotate(-90 12 {height / 2:.0f})' "
        f"text-anchor='middle'>{escape(unit)}</text>"
    )
    return "".join(parts)


def write_latency_svg(series: dict[str, Any], width: int = 1000, height: int = 320, pad: int = 56) -> str:
    points = series["points"]
    tiers = sorted({t for p in points for t in p["tiers"]}, key=int)
    values = [v for p in points for v in p["tiers"].values() if v is not None]
    if not points or not values:
        return (
            "<svg id='plot-write-latency' class='plot' width='600' height='60'><text x='10' y='35'>"
            "write latency: no sample yet</text></svg>"
        )
    y_max = max(values) * 1.15
    step = (width - pad - 30) / max(1, len(points) - 1)
    x = [pad + 10 + i * step for i in range(len(points))]

    def y(v: float) -> float:
        return height - pad - (height - pad - 10) * v / y_max

    parts = [_axis(width, height, pad, y_max, "ms per write")]
    for i, p in enumerate(points):
        parts.append(
            f"<text x='{x[i]:.1f}' y='{height - pad + 16}' font-size='10' text-anchor='end' "
            f"transform='rotate(-35 {x[i]:.1f} {height - pad + 16})'>{escape(p['label'])}</text>"
        )
    for n, tier in enumerate(tiers):
        colour = TIER_COLOURS[n % len(TIER_COLOURS)]
        pts = [(x[i], y(p["tiers"][tier])) for i, p in enumerate(points) if p["tiers"].get(tier) is not None]
        parts.append(
            f"<polyline class='series' data-tier='{tier}' fill='none' stroke='{colour}' stroke-width='2' "
            f"points='{' '.join(f'{a:.1f},{b:.1f}' for a, b in pts)}'/>"
        )
        parts += [f"<circle class='point' cx='{a:.1f}' cy='{b:.1f}' r='3' fill='{colour}'/>" for a, b in pts]
        parts.append(
            f"<text class='legend' x='{width - 120}' y='{24 + 16 * n}' font-size='12' fill='{colour}'>"
            f"tier {tier}</text>"
        )
    return (
        f"<svg id='plot-write-latency' class='plot' xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{height + 40}' viewBox='0 0 {width} {height + 40}'>{''.join(parts)}</svg>"
    )


def read_latency_svg(rows: list[dict[str, Any]], width: int = 1000, height: int = 300, pad: int = 56) -> str:
    values = [r[f]["p50_ms"] for r in rows for f in ("legacy", "events") if r.get(f)]
    y_max = (max(values) if values else 1.0) * 1.15
    group = (width - pad - 20) / max(1, len(rows))
    bar = group * 0.32
    parts = [_axis(width, height, pad, y_max, "p50 ms")]
    for i, r in enumerate(rows):
        gx = pad + 10 + i * group
        for j, (form, colour) in enumerate((("legacy", "#999999"), ("events", "#1b9e77"))):
            fig = r.get(form)
            bx = gx + j * (bar + 4)
            if fig:
                h = (height - pad - 10) * fig["p50_ms"] / y_max
                parts.append(
                    f"<rect class='bar {form}' data-query='{r['name']}' x='{bx:.1f}' "
                    f"y='{height - pad - h:.1f}'"
                    f" width='{bar:.1f}' height='{h:.1f}' fill='{colour}'><title>{form} p50 "
                    f"{fig['p50_ms']} ms</title></rect>"
                    f"<text x='{bx + bar / 2:.1f}' y='{height - pad - h - 3:.1f}' font-size='10' "
                    f"text-anchor='middle'>{fig['p50_ms']:.3g}</text>"
                )
            else:
                parts.append(
                    f"<text class='not-measured' x='{bx + bar / 2:.1f}' y='{height - pad - 6}' "
                    "font-size='10' text-anchor='middle'>n/m</text>"
                )
        parts.append(
            f"<text x='{gx + bar:.1f}' y='{height - pad + 16}' font-size='11' text-anchor='middle'>"
            f"{escape(r['name'])}</text>"
        )
    parts.append(
        f"<rect x='{width - 200}' y='14' width='12' height='12' fill='#999999'/><text x='{width - 184}' "
        f"y='25' font-size='12'>legacy (activity_logs)</text><rect x='{width - 200}' y='32' width='12' "
        f"height='12' fill='#1b9e77'/><text x='{width - 184}' y='43' font-size='12'>new (events)</text>"
    )
    return (
        f"<svg id='plot-read-latency' class='plot' xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{height + 10}' viewBox='0 0 {width} {height + 10}'>{''.join(parts)}</svg>"
    )


def _form_cells(fig: dict[str, Any] | None, at: str | None) -> str:
    if not fig:
        return "<td colspan='3' class='na'>not measured</td>"
    return (
        f"<td class='num'>{fig['p50_ms']}</td><td class='num'>{fig['p95_ms']}</td>"
        f"<td class='note'>{fig['shared_hit'] + fig['shared_read']} blocks ({fig['shared_read']} read); "
        f"{escape(', '.join(fig.get('nodes', [])[:4]))}; {escape(at or '')}</td>"
    )


def queries_table(rows: list[dict[str, Any]]) -> str:
    body = "".join(
        f"<tr class='query-row' data-query='{r['name']}'><td>{escape(r['title'])}</td>"
        f"{_form_cells(r['legacy'], r['legacy_at'])}{_form_cells(r['events'], r['events_at'])}"
        f"<td class='num'>{_pct(r['change_p50_pct'])}</td><td class='note'>"
        f"{escape('legacy now: ' + r['legacy_now']['not_measured']) if r.get('legacy_now') else ''}</td></tr>"
        for r in rows
    )
    headers = ("query", "old p50 ms", "old p95 ms", "old plan", "new p50 ms", "new p95 ms", "new plan")
    return _table("queries", (*headers, "p50 change", "note"), body)


def _kv_table(table_id: str, pairs: list[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td class='num'>{escape(_fmt(v))}</td></tr>" for k, v in pairs)
    return f"<table id='{table_id}'>{rows}</table>"


def facts_html(fig: dict[str, Any]) -> str:
    c = fig.get("counts") or {}
    src = fig.get("events_by_source") or {}
    quarantined = c.get("quarantined_by_reason") or {}
    counts = _kv_table(
        "counts",
        [
            ("history rows migrated (backfill)", c.get("rows_backfilled")),
            ("events linked to the legacy log", c.get("events_linked")),
            ("quarantined rows", sum(quarantined.values())),
            *[(f"  quarantined: {k}", v) for k, v in sorted(quarantined.items())],
            ("events written by dual write / triggers (source trigger)", src.get("trigger", 0)),
            ("events published by the application (source service)", src.get("service", 0)),
            ("events copied by the backfill (source backfill)", src.get("backfill", 0)),
        ],
    )
    approvals = "".join(
        f"<tr><td>{escape(a['phase'])}</td><td>{escape(a['step'])}</td><td>{escape(a['status'])}"
        f"{' (demo: skipped)' if a['status'] == 'skipped' else ''}</td><td>{escape(a['actor'] or '–')}"
        f"</td><td>{escape(str(a['decided_at'])[:19])}</td></tr>"
        for a in fig.get("approvals") or []
    )
    envs = fig.get("durations_by_environment") or {
        fig.get("environment", "production"): fig.get("durations") or []
    }
    phases = list(PHASES)
    cells = {
        env: ({} if isinstance(rows, str) else {d["phase"]: d for d in rows}) for env, rows in envs.items()
    }
    dur = "".join(
        f"<tr><td>{p}</td>"
        + "".join(
            f"<td class='num'>{_fmt(cells[e][p]['seconds'], 's')} ({cells[e][p]['runs']} runs)</td>"
            if p in cells[e]
            else f"<td class='na'>{escape(str(envs[e])) if isinstance(envs[e], str) else 'not run'}</td>"
            for e in envs
        )
        + "</tr>"
        for p in phases
    )
    return (
        f"<h2>Counts</h2>{counts}<h2>Approvals (from the ledger)</h2><table id='approvals'><tr><th>phase</th>"
        f"<th>step</th><th>decision</th><th>who</th><th>when (UTC)</th></tr>{approvals}</table>"
        f"<h2>Duration of each phase</h2><table id='durations'><tr><th>phase</th>"
        + "".join(f"<th>{escape(e)}</th>" for e in envs)
        + f"</tr>{dur}</table>"
    )


def render(fig: dict[str, Any]) -> str:
    missed = [p for p in fig["promises"] if p["reached"] is False]
    unmeasured = [p for p in fig["promises"] if p["reached"] is None]
    verdict = (
        f"{sum(1 for p in fig['promises'] if p['reached'])} of {len(fig['promises'])} "
        "promised gains reached. "
        + (f"Not reached: {', '.join(p['promise'] for p in missed)}. " if missed else "")
        + (f"Not measured: {', '.join(p['promise'] for p in unmeasured)}." if unmeasured else "")
    )
    params = fig.get("parameters") or {}
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Activity migration: the outcome "
        f"({escape(fig['environment'])})</title><style>{CSS}</style></head><body>"
        f"<h1>Activity migration: the outcome, measured ({escape(fig['environment'])})</h1>"
        f"<p class='note'>Generated {escape(fig['generated_at'])} from {len(fig['samples'])} samples: before "
        "= the "
        f"first (phase 1, before any change), after = the newest. Change = after / before − 1.</p>"
        f"<p id='verdict'><strong>{escape(verdict)}</strong></p>"
        f"<h2>Promised vs measured</h2>{promised_table(fig['promises'])}"
        f"<h2>Write latency per tier over the migration</h2><p "
        f"class='note'>{escape(fig['write_series']['method'])}"
        f"</p>{write_latency_svg(fig['write_series'])}"
        f"<h2>Activity read queries, old vs "
        f"new</h2>{read_latency_svg(fig['queries'])}{queries_table(fig['queries'])}"
        f"<p class='note'>Parameters chosen from the data: "
        f"{escape(', '.join(f'{k}={v}' for k, v in params.items()))}"
        f"</p>{facts_html(fig)}</body></html>"
    )
