"""Phase 3's gate, read-path parity: for sample users of every group, the first pages of the old
table and of the new feed, each read as that user under its own access rules, show the same
activities. The read source flips to events only after it passed."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, NamedTuple

import psycopg
from psycopg import sql

from .. import ledger
from ..config import MigrationConfig, load_config
from ..db import (
    connection,
    fetch_all,
    fetch_one,
    load_sql,
    scalar,
)
from ..errors import GateClosed, MigrationError, PreflightError
from ..ledger import RunContext
from ._common import relation_kind

log = logging.getLogger(__name__)

PHASE = "p3_read_path"
FEED_FUNCTION = "public.event_feed(timestamptz, uuid, int, uuid, text, text, text)"
APP_ROLE = "authenticated"
CUTOFF_KEYS = ("cutoff", "backfill_cutoff", "dual_write_cutoff")
_FEED_PAGE = load_sql("p3_read_path/10_select_feed_page.sql")


# --------------------------------------------------------------------------- read parity
@dataclass(frozen=True)
class ParitySettings:
    top_users: int = 20
    random_users: int = 5
    pages: int = 3
    page_size: int = 20

    def __post_init__(self) -> None:
        if not 0 <= self.top_users <= 1000 or not 0 <= self.random_users <= 1000:
            raise MigrationError(
                f"parity sample sizes must be 0..1000, got {self.top_users}/{self.random_users}"
            )
        if self.top_users + self.random_users < 1:
            raise MigrationError("parity needs at least one sample user")
        if not 1 <= self.pages <= 20:
            raise MigrationError(f"parity pages must be 1..20, got {self.pages}")
        if not 1 <= self.page_size <= 200:
            raise MigrationError(f"parity page_size must be 1..200 (the feed's bound), got {self.page_size}")


def dual_write_cutoff(conn: psycopg.Connection, cfg: MigrationConfig) -> datetime | None:
    """The phase-2 cutoff (before it, rows are the backfill's job), or None when not recorded."""
    for key in CUTOFF_KEYS:
        value = ledger.get_setting(conn, key, None, cfg=cfg)
        if isinstance(value, dict):
            value = next(
                (
                    value[k]
                    for k in ("cutoff_at", "at", "cutoff", "occurred_at", "timestamp", "created_at")
                    if k in value
                ),
                None,
            )
        if value:
            return scalar(conn, "SELECT %s::timestamptz", (str(value),))
    return None


def backfill_complete(conn: psycopg.Connection, cfg: MigrationConfig) -> bool:
    """True when phase 4 planned chunks and every one is done (then history must all be in events)."""
    if not ledger.state_schema_exists(conn, cfg):
        return False
    row = fetch_one(
        conn,
        sql.SQL("SELECT count(*) AS n, count(*) FILTER (WHERE status <> 'done') AS open FROM {}").format(
            sql.Identifier(cfg.state_schema, "backfill_chunks")
        ),
    )
    return bool(row and row["n"] and not row["open"])


def quarantined_ids(conn: psycopg.Connection, cfg: MigrationConfig) -> frozenset[str]:
    """Legacy ids of the unresolved quarantined rows (legitimately absent from events). The
    quarantine is small; a user who may read other users' rows (staff) may meet any of them."""
    if not ledger.state_schema_exists(conn, cfg):
        return frozenset()
    rows = fetch_all(
        conn,
        sql.SQL("SELECT legacy_id FROM {} WHERE resolved_at IS NULL").format(
            sql.Identifier(cfg.state_schema, "quarantine")
        ),
    )
    return frozenset(r["legacy_id"] for r in rows)


def sample_users(conn: psycopg.Connection, cfg: MigrationConfig, settings: ParitySettings) -> list[str]:
    """The actors with the most legacy rows, plus random users (auth.users when present)."""
    actor_col = cfg.source.column("actor_id")
    if not actor_col:
        raise MigrationError("source.columns maps no actor_id: read parity needs the user column")
    src = sql.Identifier(cfg.source.schema, cfg.source.table)
    actor = sql.Identifier(actor_col)
    top = fetch_all(
        conn,
        load_sql("p3_read_path/07_select_top_actors.sql", actor=actor, source=src),
        (settings.top_users,),
    )
    users = [r["u"] for r in top]
    if settings.random_users:
        if relation_kind(conn, "auth", "users"):
            rnd = fetch_all(
                conn,
                "SELECT id::text AS u FROM auth.users ORDER BY random() LIMIT %s",
                (settings.random_users + len(users),),
            )
        else:
            rnd = fetch_all(
                conn,
                load_sql("p3_read_path/08_select_some_actors.sql", actor=actor, source=src),
                (settings.random_users + len(users),),
            )
        extra = [r["u"] for r in rnd if r["u"] not in users][: settings.random_users]
        users += extra
    # every group of users the access rules tell apart (config security.user_groups: staff, clients)
    for group, query in sorted(cfg.security.user_groups.items()):
        try:
            rows = fetch_all(
                conn,
                sql.SQL("SELECT u::text AS u FROM ({}) AS g(u) ORDER BY random() LIMIT %s").format(
                    sql.SQL(query)
                ),
                (max(settings.random_users, 1) + len(users),),
            )
        except psycopg.Error as exc:
            raise MigrationError(
                f"config security.user_groups.{group} is not a query returning user ids: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        users += [r["u"] for r in rows if r["u"] and r["u"] not in users][: max(settings.random_users, 1)]
    return users


def event_type_for(entity_type: str | None, action: str | None) -> str | None:
    """Python twin of ``{state}.event_type_for`` (02_create_mapping_rules.sql)."""
    if entity_type is None or action is None:
        return None
    norm = lambda v: re.sub(r"[^A-Za-z0-9_]+", "_", v.strip(" ")).lower()  # noqa: E731
    return norm(entity_type) + "." + norm(action)


@contextlib.contextmanager
def as_app_user(conn: psycopg.Connection, user_id: str) -> Iterator[psycopg.Connection]:
    """Run the block as ``authenticated`` with JWT subject ``user_id`` (RLS applies), then roll back."""
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(APP_ROLE)))
        conn.execute(
            "SELECT set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": user_id, "role": APP_ROLE}),),
        )
        yield conn


class NotYetInEvents(NamedTuple):
    """Which old rows may legitimately be missing from events: rows before the ``cutoff`` while
    the backfill is not done, and the ``quarantined`` ones (by legacy id)."""

    cutoff: datetime | None
    backfill_done: bool = False
    quarantined: frozenset[str] = frozenset()


def _old_rows(
    conn: psycopg.Connection, cfg: MigrationConfig, user_id: str, limit: int, absent: NotYetInEvents
) -> tuple[list[dict[str, Any]], int]:
    """First ``limit`` rows of the old query as the user. Left out (and counted): quarantined rows,
    and, while the backfill has not finished, rows before the cutoff not in events yet."""
    c = cfg.source.columns
    src = sql.Identifier(cfg.source.schema, cfg.source.table)
    key, ts, actor = (
        sql.Identifier(cfg.source.key),
        sql.Identifier(c["occurred_at"]),
        sql.Identifier(c["actor_id"]),
    )
    events = sql.Identifier(cfg.target_schema, cfg.target_table)
    ent_id = sql.SQL("a.{}").format(sql.Identifier(c["entity_id"])) if c.get("entity_id") else sql.SQL("NULL")
    # No filter of ours: the old table's own access rules (RLS) decide what the user sees, as in
    # the application; the feed over events must show the same rows.
    q = load_sql(
        "p3_read_path/09_select_old_feed_rows.sql",
        key=key,
        ts=ts,
        actor=actor,
        etype=sql.Identifier(c["entity_type"]),
        action=sql.Identifier(c["action"]),
        ent_id=ent_id,
        events=events,
        source=src,
    )
    # Ask for more than needed so that skipping pending rows still leaves a full window.
    rows = fetch_all(conn, q, {"user": user_id, "limit": limit * 4, "cutoff": absent.cutoff})
    for r in rows:
        r["pending"] = r["legacy_id"] in absent.quarantined or (r["pending"] and not absent.backfill_done)
    kept = [r for r in rows if not r["pending"]][:limit]
    for r in kept:  # the app role cannot call {state}.event_type_for: same rule, in Python
        r["event_type"] = event_type_for(r["entity_type"], r["action"])
    skipped = sum(1 for r in rows if r["pending"] and (not kept or r["ts"] >= kept[-1]["ts"]))
    return kept, skipped


def _feed_rows(
    conn: psycopg.Connection, pages: int, page_size: int
) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    cursor: tuple[Any, Any] = (None, None)
    for page in range(pages):
        got = fetch_all(conn, _FEED_PAGE, (cursor[0], cursor[1], page_size))
        if len(got) > page_size:
            problems.append(f"page {page + 1} returned {len(got)} rows > page size {page_size}")
        rows.extend(got)
        if len(got) < page_size:
            break
        cursor = (got[-1]["ts"], got[-1]["raw_id"])
    seen = set()
    for i, r in enumerate(rows):
        if r["event_id"] in seen:
            problems.append(f"event {r['event_id']} appears on two pages")
        seen.add(r["event_id"])
        if i and (rows[i - 1]["ts"], rows[i - 1]["raw_id"]) < (r["ts"], r["raw_id"]):
            problems.append(f"feed order broken at row {i + 1} ({r['event_id']})")
    return rows, problems


def compare_user(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    user_id: str,
    settings: ParitySettings,
    absent: NotYetInEvents,
) -> dict[str, Any]:
    """Compare the first pages of the old table and of the feed for one user, both as that user
    (each under its own access rules: what the user saw before is what the user sees now)."""
    window = settings.pages * settings.page_size
    with as_app_user(conn, user_id):
        old, pending = _old_rows(conn, cfg, user_id, window, absent)
        new, problems = _feed_rows(conn, settings.pages, settings.page_size)
    # Rows tied on the timestamp at the window edge may legitimately fall on either side of it
    # (the two orders break ties by different ids): compare strictly above the edge.
    edges = [lst[-1]["ts"] for lst in (old, new) if len(lst) >= window]
    edge = max(edges) if edges else None

    def inside(r: dict[str, Any]) -> bool:
        return edge is None or r["ts"] > edge

    old_in = [r for r in old if inside(r)]
    new_in = [r for r in new if inside(r)]
    old_ids = {r["legacy_id"] for r in old_in}
    new_linked = {r["legacy_id"] for r in new_in if r["legacy_id"] is not None}
    # Events without a legacy id match an old row by the mapped fields.
    unmatched_old = {
        (r["event_type"], r["entity_id"], r["ts"]): r["legacy_id"]
        for r in old_in
        if r["legacy_id"] not in new_linked
    }
    new_unlinked = []
    for r in new_in:
        if r["legacy_id"] is None:
            k = (r["event_type"], r["entity_id"], r["ts"])
            if k in unmatched_old:
                new_linked.add(unmatched_old.pop(k))
            else:
                new_unlinked.append(r["event_id"])
    missing = sorted(old_ids - new_linked)
    extra = sorted(new_linked - old_ids)
    ok = not (missing or extra or new_unlinked or problems)
    return {
        "user": user_id,
        "ok": ok,
        "old_rows": len(old),
        "feed_rows": len(new),
        "compared": len(old_in),
        "pending_backfill": pending,
        "missing_in_feed": missing[:20],
        "extra_in_feed": extra[:20],
        "unmatched_events": new_unlinked[:20],
        "problems": problems[:20],
    }


def read_parity(
    dsn: str,
    cfg: MigrationConfig | None = None,
    settings: ParitySettings | None = None,
    ctx: RunContext | None = None,
    *,
    record: bool = True,
) -> dict[str, Any]:
    """Compare old query and feed for sample users; returns the report (``passed`` and differences).

    While the backfill has not finished, rows older than the phase-2 cutoff that are not in
    events yet are its job, and quarantined rows are never in events: both are reported as
    ``pending_backfill``, not as differences.
    """
    cfg = cfg or load_config()
    settings = settings or ParitySettings()
    with connection(dsn) as conn:
        if not scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (FEED_FUNCTION,)):
            raise PreflightError("public.event_feed does not exist: phase 3 apply has not run")
        absent = NotYetInEvents(
            dual_write_cutoff(conn, cfg), backfill_complete(conn, cfg), quarantined_ids(conn, cfg)
        )
        users = sample_users(conn, cfg, settings)
        conn.commit()
        results = [compare_user(conn, cfg, u, settings, absent) for u in users]
    failed = [r for r in results if not r["ok"]]
    report = {
        "passed": not failed,
        "users": len(results),
        "failed_users": len(failed),
        "pages": settings.pages,
        "page_size": settings.page_size,
        "cutoff": absent.cutoff.isoformat() if absent.cutoff else None,
        "backfill_complete": absent.backfill_done,
        "compared_rows": sum(r["compared"] for r in results),
        "pending_backfill_rows": sum(r["pending_backfill"] for r in results),
        "differences": failed[:10],
    }
    if record:
        with connection(dsn) as conn:
            ledger.record(
                conn,
                PHASE,
                "read_parity",
                "succeeded" if report["passed"] else "failed",
                ctx,
                json.loads(ledger.dumps(report)),
                cfg=cfg,
            )
    return report


def describe_differences(report: dict[str, Any]) -> str:
    lines = [f"read-path parity failed for {report['failed_users']} of {report['users']} sample users:"]
    for d in report["differences"]:
        bits = []
        if d["missing_in_feed"]:
            bits.append(f"missing in feed {d['missing_in_feed'][:5]}")
        if d["extra_in_feed"]:
            bits.append(f"only in feed {d['extra_in_feed'][:5]}")
        if d["unmatched_events"]:
            bits.append(f"events matching no legacy row {d['unmatched_events'][:5]}")
        bits += d["problems"][:3]
        lines.append(f"  user {d['user']}: " + "; ".join(bits))
    return "\n".join(lines)


def require_read_parity(
    dsn: str,
    cfg: MigrationConfig | None = None,
    settings: ParitySettings | None = None,
    ctx: RunContext | None = None,
) -> dict[str, Any]:
    """The gate: run :func:`read_parity`, raise GateClosed listing the differences when it fails."""
    report = read_parity(dsn, cfg, settings, ctx)
    if not report["passed"]:
        raise GateClosed(describe_differences(report))
    return report
