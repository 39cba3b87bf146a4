"""What each secondary index of ``events`` costs the history copy (seconds and WAL bytes per row).

    python benchmarks/index_cost_during_copy.py [--rows 200000] [--json benchmarks/results/x.json]

Seeds a demo database (phases 1 and 2, as backfill_vs_insert_select.py does), then copies the
history with the backfill's mapping in ONE ``INSERT … SELECT`` into a fresh table of the events
shape carrying only the primary key and the unique legacy-id index (the copy needs them), plus:
nothing; each secondary index of ``public.events`` alone; all of them; all of them with the
full-text GIN in pending-list mode (``fastupdate``, ``gin_pending_list_limit`` 64 MB, cleaned
after and counted in); all but the GIN, then the GIN built ``CONCURRENTLY`` afterwards (counted
in). WAL bytes = ``pg_current_wal_lsn()`` before/after. Each variant runs ``--rounds`` times
(alternating); the machine is shared, so read ratios, not absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill_vs_insert_select import MAPPING_INSERT, prepare  # noqa: E402

GIN = "events_search_idx"


def secondary_indexes(conn: psycopg.Connection) -> dict[str, str]:
    """name -> definition of events' indexes other than the primary key and the legacy-id key."""
    rows = conn.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'public.events'::regclass AND NOT x.indisprimary AND NOT x.indisunique"
    ).fetchall()
    return dict(rows)


def _on_copy(definition: str, name: str) -> str:
    return definition.replace(f"INDEX {name} ON public.events", f"INDEX {name}_c ON public.events_copy")


def run_variant(dsn: str, defs: dict[str, str], keep: list[str], mode: str = "plain") -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.events_copy")
        conn.execute(
            "CREATE TABLE public.events_copy (LIKE public.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        conn.execute("ALTER TABLE public.events_copy ADD PRIMARY KEY (id)")
        conn.execute("ALTER TABLE public.events_copy ADD UNIQUE (legacy_activity_log_id)")
        for name in keep:
            stmt = _on_copy(defs[name], name)
            if mode == "pending" and name == GIN:
                stmt += " WITH (fastupdate = on, gin_pending_list_limit = 65536)"
            conn.execute(stmt)
        conn.execute("CHECKPOINT")
        lsn0 = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        t = time.monotonic()
        n = conn.execute(
            sql.SQL(MAPPING_INSERT).format(target=sql.Identifier("public", "events_copy"))
        ).rowcount
        copy_s = time.monotonic() - t
        after_s = 0.0
        if mode == "pending":
            t = time.monotonic()
            conn.execute(
                sql.SQL("SELECT gin_clean_pending_list({}::regclass)").format(sql.Literal(f"public.{GIN}_c"))
            )
            after_s = time.monotonic() - t
        elif mode == "gin_after":
            t = time.monotonic()
            conn.execute(_on_copy(defs[GIN], GIN).replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY"))
            after_s = time.monotonic() - t
        wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn0,)).fetchone()[0]
        conn.execute("DROP TABLE public.events_copy")
    return {
        "rows": n,
        "copy_s": copy_s,
        "after_s": after_s,
        "total_s": copy_s + after_s,
        "wal_bytes": float(wal),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--admin-dsn",
        default=os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = ap.parse_args()
    dsn = prepare(args.admin_dsn, args.rows)
    try:
        with psycopg.connect(dsn) as conn:
            defs = secondary_indexes(conn)
        variants: dict[str, tuple[list[str], str]] = {"keys only": ([], "plain")}
        variants.update({f"+ {name}": ([name], "plain") for name in defs})
        variants["all (what the copy pays today)"] = (list(defs), "plain")
        variants["all, GIN pending list 64 MB (+ clean)"] = (list(defs), "pending")
        variants["all but GIN, GIN CONCURRENTLY after (+ build)"] = (
            [n for n in defs if n != GIN],
            "gin_after",
        )
        runs: dict[str, list[dict]] = {k: [] for k in variants}
        for _ in range(args.rounds):
            for label, (keep, mode) in variants.items():
                runs[label].append(run_variant(dsn, defs, keep, mode))
                print(f"{label}: {runs[label][-1]}", file=sys.stderr)
        keys = statistics.median(r["total_s"] for r in runs["keys only"])
        out = {"rows": args.rows, "rounds": args.rounds, "date": time.strftime("%Y-%m-%d"), "variants": {}}
        for label, rs in runs.items():
            total = statistics.median(r["total_s"] for r in rs)
            out["variants"][label] = {
                "copy_s": round(statistics.median(r["copy_s"] for r in rs), 2),
                "after_s": round(statistics.median(r["after_s"] for r in rs), 2),
                "total_s": round(total, 2),
                "x_keys_only": round(total / keys, 2),
                "wal_bytes_per_row": round(
                    statistics.median(r["wal_bytes"] for r in rs) / max(1, rs[0]["rows"])
                ),
            }
    finally:
        name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
