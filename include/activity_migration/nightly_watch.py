"""The nightly check's second half: the event-type registry recounted, unregistered types and
realtime load reported (docs/event-types-and-realtime.md). Rendering of its mail included;
sending is the Airflow adapter's job (``migration_airflow.watch_tasks``).

A finding never fails the nightly run: an unregistered type is accepted by design, and a
realtime warning (or a critical level outside phase 3) is a reason to mail, not to stop. The
run fails only when the check itself cannot run.
"""

from __future__ import annotations

import html
from typing import Any

from .config import MigrationConfig
from .db import connection
from .event_types import registry
from .realtime_watch import measure


def run(dsn: str, cfg: MigrationConfig) -> dict[str, Any]:
    """Recount the registry (set-based, exact as of its snapshot), list the unregistered types,
    measure realtime. Returns a JSON-able dict."""
    filled = registry.ensure_filled_from_mapping(dsn, cfg)
    with connection(dsn) as conn:
        counts = registry.refresh_counts(conn, cfg)
        conn.commit()
        unregistered = registry.unregistered_event_types(conn, cfg)
        conn.rollback()
        conn.autocommit = True
        realtime = measure(conn, cfg)
    return {
        "registry": counts,
        "filled_from_mapping": filled,
        "unregistered": [
            {k: (str(v) if k in ("first_seen", "last_seen") else v) for k, v in u.items()}
            for u in unregistered
        ],
        "realtime": realtime.to_dict(),
    }


def needs_mail(result: dict[str, Any]) -> bool:
    return bool(result["unregistered"]) or result["realtime"]["level"] in ("warning", "critical")


def render_subject(result: dict[str, Any], environment: str) -> str:
    parts = []
    n = len(result["unregistered"])
    if n:
        names = ", ".join(u["event_type"] for u in result["unregistered"][:5]) + (" …" if n > 5 else "")
        parts.append(f"{n} unregistered event type{'s' if n != 1 else ''} ({names})")
    level = result["realtime"]["level"]
    if level in ("warning", "critical"):
        parts.append(f"realtime load {level.upper()}")
    return f"[{environment}] activity-migration nightly watch: " + "; ".join(parts or ["nothing to report"])


def render_html(result: dict[str, Any], environment: str, dag_run_id: str | None = None) -> str:
    e = html.escape
    out = [
        '<html><body style="font-family: sans-serif; font-size: 14px">',
        f"<h2>Nightly watch: {e(environment)}</h2>",
    ]
    if dag_run_id:
        out.append(f"<p>DAG run {e(dag_run_id)}</p>")
    reg = result["registry"]
    out.append(
        f"<p>Event-type registry recounted at {e(str(reg.get('counted_at')))}: {reg.get('types')} "
        "types, "
        f"{reg.get('events')} events.</p>"
    )
    if result["unregistered"]:
        out.append(
            "<h3>Event types seen without registration</h3><p>Accepted and stored like any other (no "
            "event "
            "is refused); the feed shows them raw until they are registered with a label: "
            "<code>activity-migration event-types register TYPE --by NAME</code>.</p>"
        )
        out.append(
            '<table border="1" cellpadding="4" style="border-collapse: collapse"><tr><th>Event '
            "type</th>"
            "<th>Events</th><th>First seen</th><th>Last seen</th><th>Sources</th></tr>"
        )
        for u in result["unregistered"]:
            out.append(
                f"<tr><td>{e(u['event_type'])}</td><td>{u['event_count']}</td><td>{e(str(u['first_seen']))}"
                f"</td><td>{e(str(u['last_seen']))}</td>"
                f"<td>{e(', '.join(u.get('sources') or []))}</td></tr>"
            )
        out.append("</table>")
    rt = result["realtime"]
    out.append(f"<h3>Realtime: {e(rt['level'])}</h3><ul>")
    for f in rt["findings"]:
        out.append(f"<li><b>{e(f['level'])}</b> {e(f['check'])} {e(f['subject'])}: {e(f['message'])}</li>")
    out.append("</ul></body></html>")
    return "\n".join(out)


def render_mail(result: dict[str, Any], environment: str, dag_run_id: str | None = None) -> tuple[str, str]:
    return render_subject(result, environment), render_html(result, environment, dag_run_id)
