"""The outcome report's figures, from the samples and the ledger: the plan's promises beside what was
measured, the series for the plots, the counts, the approvals and the phase durations.

*Before* is the first sample (phase 1's, taken before it changed anything), *after* the newest one
(the end of phase 6, or one taken on demand). A change is after / before - 1, on the same method
on both sides; a figure one side lacks is reported with the reason, never as zero.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg import sql

from ..config import MigrationConfig
from ..db import fetch_all, fetch_one, load_sql, scalar
from ..ledger import state_schema_exists
from . import queries, samples

# The migration plan's promises (seed 000), as (key, promise, target change in percent).
PROMISES = (
    ("activity_queries", "70–80 % faster activity queries", -70.0),
    ("write_latency", "90 % lower write latency", -90.0),
    ("db_cpu", "60 % less database CPU (per write)", -60.0),
    ("db_io_wal", "60 % less database I/O: WAL per write", -60.0),
    ("db_io_blocks", "60 % less database I/O: blocks per write", -60.0),
    ("api_responses", "80 % faster activity API responses", -80.0),
)


def group_samples(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sample rows grouped by capture, oldest first: ``{phase, point, tier, sampled_at, kinds}``."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = out.setdefault(
            r["sample_id"],
            {
                "sample_id": r["sample_id"],
                "phase": r["phase"],
                "point": r["point"],
                "tier": r["tier"],
                "environment": r["environment"],
                "sampled_at": r["sampled_at"],
                "kinds": {},
            },
        )
        s["kinds"][r["kind"]] = {"method": r["method"], "figures": r["figures"]}
    return sorted(out.values(), key=lambda s: s["sampled_at"])


def label(sample: dict[str, Any]) -> str:
    short = sample["phase"].split("_", 1)[0]
    tier = f" t{sample['tier']}" if sample.get("tier") else ""
    return f"{short}{tier} {sample['point']}" if sample["point"] != "start" else f"{short}{tier}"


def _change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before <= 0:
        return None
    return round((after / before - 1) * 100, 1)


def _promise(
    key: str, before: float | None, after: float | None, unit: str, method: str, why: str | None = None
) -> dict[str, Any]:
    title, target = next((t, g) for k, t, g in PROMISES if k == key)
    change = _change(before, after)
    if change is None and why is None:
        why = "no figure on one side" if before is None or after is None else "before is zero"
    reached = None if change is None else change <= target
    verdict = (
        ("not measured: " + (why or ""))
        if change is None
        else ("reached" if reached else f"NOT reached: {change:+.1f} % measured, {target:+.0f} % promised")
    )
    return {
        "key": key,
        "promise": title,
        "target_pct": target,
        "before": before,
        "after": after,
        "unit": unit,
        "change_pct": change,
        "method": method,
        "reached": reached,
        "verdict": verdict,
    }


def _first(samples_: list[dict[str, Any]], fn) -> tuple[Any, dict[str, Any] | None]:
    for s in samples_:
        value = fn(s)
        if value is not None:
            return value, s
    return None, None


def _read(sample: dict[str, Any], name: str, form: str) -> dict[str, Any] | None:
    fig = ((sample["kinds"].get("read_queries") or {}).get("figures") or {}).get("queries", {}).get(name, {})
    value = fig.get(form)
    return value if value and "p50_ms" in value else None


def query_rows(grouped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per query: the legacy form at its first measurement, the new form at its last, the change."""
    out = []
    for q in queries.QUERIES:
        before, b_sample = _first(grouped, lambda s: _read(s, q.name, "legacy"))
        after, a_sample = _first(list(reversed(grouped)), lambda s: _read(s, q.name, "events"))
        last = grouped[-1] if grouped else None
        now_legacy = (
            ((last["kinds"].get("read_queries") or {}).get("figures") or {})
            .get("queries", {})
            .get(q.name, {})
            .get("legacy")
            if last
            else None
        )
        out.append(
            {
                "name": q.name,
                "title": q.title,
                "legacy": before,
                "events": after,
                "legacy_at": label(b_sample) if b_sample else None,
                "events_at": label(a_sample) if a_sample else None,
                "legacy_now": now_legacy if now_legacy and "not_measured" in now_legacy else None,
                "change_p50_pct": _change(before and before["p50_ms"], after and after["p50_ms"]),
                "change_p95_pct": _change(before and before["p95_ms"], after and after["p95_ms"]),
            }
        )
    return out


def _write_figure(sample: dict[str, Any], method: str) -> float | None:
    fig = (sample["kinds"].get("write_latency") or {}).get("figures") or {}
    return (
        (fig.get("statements") or {}).get("ms")
        if method == "pg_stat_statements"
        else (fig.get("probe") or {}).get("ms")
    )


def _io(sample: dict[str, Any], key: str) -> tuple[float | None, str]:
    row = sample["kinds"].get("io_per_write") or {}
    fig = row.get("figures") or {}
    return fig.get(key), row.get("method", "none")


def _span(grouped: list[dict[str, Any]], get: Any) -> tuple[Any, Any, str]:
    """The value at the first sample that has it and at the last one (a different sample), and where."""
    b, b_sample = _first(grouped, get)
    a, a_sample = _first(list(reversed(grouped)), get)
    if b_sample is not None and a_sample is b_sample:
        a, a_sample = None, None
    where = f"{label(b_sample) if b_sample else '–'} → {label(a_sample) if a_sample else '–'}"
    return b, a, where


def _reads_promise(qrows: list[dict[str, Any]]) -> dict[str, Any]:
    owner = [r for r in qrows if queries.query(r["name"]).role == "owner" and r["change_p50_pct"] is not None]
    if not owner:
        why = "no query measured in both forms (see the query table)"
        return _promise("activity_queries", None, None, "ms", "client-timed runs", why)
    gm = math.exp(sum(math.log(r["events"]["p50_ms"] / r["legacy"]["p50_ms"]) for r in owner) / len(owner))
    how = f"geometric mean over {len(owner)} queries of p50 new / p50 old (client-timed runs)"
    return _promise("activity_queries", 100.0, round(100.0 * gm, 1), "index (legacy = 100)", how)


def _write_promise(grouped: list[dict[str, Any]]) -> dict[str, Any]:
    b, a, where = _span(grouped, lambda s: _write_figure(s, "pg_stat_statements"))
    method = "pg_stat_statements"
    how = (
        "mean execution time per application write incl. its triggers, plus the app's own "
        "publish_activity calls per write after the triggers are gone"
    )
    if b is None or a is None:
        b, a, where = _span(grouped, lambda s: _write_figure(s, "probe"))
        method = "probe"
        how = (
            "rolled-back probe: median single-row write timed in the server, mean over the logged tables "
            "(the table write alone; pg_stat_statements missing or too few writes on one side)"
        )
    return _promise("write_latency", b, a, "ms", f"{method}: {how}; samples {where}")


def _io_promises(grouped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for key, field, unit in (
        ("db_cpu", "cpu_ms", "ms"),
        ("db_io_wal", "wal_bytes", "bytes"),
        ("db_io_blocks", "shared_blocks", "blocks"),
    ):
        b, a, where = _span(grouped, lambda s, f=field: _io(s, f)[0])
        methods = {_io(s, field)[1] for s in grouped if _io(s, field)[0] is not None}
        why = None
        if b is None or a is None:
            fig = (grouped[-1]["kinds"].get("io_per_write") or {}).get("figures") or {}
            why = fig.get("not_measured") or fig.get("cpu_not_measured")
            why = why or "measured in fewer than two samples"
        elif len(methods) > 1:
            b, a, why = None, None, f"methods differ between samples ({', '.join(sorted(methods))})"
        cpu_note = " (server execution time per write: a proxy, not a CPU counter)" if key == "db_cpu" else ""
        how = f"{'/'.join(sorted(methods)) or 'none'}, per application write{cpu_note}; samples {where}"
        out.append(_promise(key, b, a, unit, how, why))
    return out


def promises(grouped: list[dict[str, Any]], qrows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not grouped:
        why = "no outcome sample yet (phase 1 takes the first)"
        return [_promise(k, None, None, "", "none", why) for k, _, _ in PROMISES]
    api = next(r for r in qrows if r["name"] == "api_own_feed")
    api_how = (
        "p50 of the API's database work: the request as role authenticated with its JWT claims (RLS "
        "applies), legacy table vs event_feed; HTTP not included"
    )
    api_row = _promise(
        "api_responses",
        api["legacy"] and api["legacy"]["p50_ms"],
        api["events"] and api["events"]["p50_ms"],
        "ms",
        api_how,
        None if api["legacy"] and api["events"] else "not measured in both forms",
    )
    return [_reads_promise(qrows), _write_promise(grouped), *_io_promises(grouped), api_row]


def write_series(grouped: list[dict[str, Any]]) -> dict[str, Any]:
    """Write latency per tier at every sample (probe: measured at every sample, whatever the traffic)."""
    points = []
    for s in grouped:
        fig = (s["kinds"].get("write_latency") or {}).get("figures") or {}
        points.append(
            {
                "label": label(s),
                "sampled_at": s["sampled_at"],
                "tiers": (fig.get("probe") or {}).get("tiers") or {},
                "statements_tiers": (fig.get("statements") or {}).get("tiers") or {},
            }
        )
    return {"method": "probe (median single-row write, rolled back, timed in the server)", "points": points}


def _ledger_rows(conn: psycopg.Connection, cfg: MigrationConfig, relative: str) -> list[dict[str, Any]]:
    if not state_schema_exists(conn, cfg):
        return []
    rows = fetch_all(conn, load_sql(relative, state=cfg.state_schema))
    if not conn.autocommit:
        conn.commit()
    return rows


def durations(conn: psycopg.Connection, cfg: MigrationConfig) -> list[dict[str, Any]]:
    return _ledger_rows(conn, cfg, "outcome/08_select_phase_durations.sql")


def ledger_facts(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Counts (rows migrated, quarantined, events per source), approvals (who, when), durations."""
    counts: dict[str, Any] = {}
    by_source: dict[str, int] = {}
    events = sql.Identifier(cfg.target_schema, cfg.target_table)
    if scalar(conn, "SELECT to_regclass(%s)", (events.as_string(conn),)):
        by_source = {
            r["source"]: int(r["n"])
            for r in fetch_all(conn, load_sql("outcome/10_count_events_by_source.sql", events=events))
        }
        if state_schema_exists(conn, cfg):
            counts = (
                fetch_one(
                    conn,
                    load_sql("summary/01_select_migration_counts.sql", state=cfg.state_schema, events=events),
                )
                or {}
            )
    return {
        "counts": counts,
        "events_by_source": by_source,
        "approvals": _ledger_rows(conn, cfg, "outcome/09_select_approvals.sql"),
        "durations": durations(conn, cfg),
    }


def collect(conn: psycopg.Connection, cfg: MigrationConfig, environment: str) -> dict[str, Any]:
    """Everything the page and the JSON show (staging durations are added by the caller)."""
    grouped = group_samples(samples.load(conn, cfg))
    qrows = query_rows(grouped)
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "environment": environment,
        "samples": [
            {k: s[k] for k in ("phase", "point", "tier", "sampled_at")} | {"label": label(s)} for s in grouped
        ],
        "promises": promises(grouped, qrows),
        "queries": qrows,
        "write_series": write_series(grouped),
        "parameters": (grouped[0]["kinds"].get("read_queries") or {}).get("figures", {}).get("parameters")
        if grouped
        else None,
        **ledger_facts(conn, cfg),
    }
