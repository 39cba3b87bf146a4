"""Seed throughput: seed the demo application with 1,000,000 history rows into a fresh database.

Not a test: run it by hand and read the figure.

    .venv/bin/python benchmarks/seed_throughput.py [ADMIN_DSN] [--rows N] [--key-type uuid|bigint] [--keep]

ADMIN_DSN (default ``postgresql://postgres@127.0.0.1:5432/postgres``) is a database on the
server where a throwaway database is created, seeded, measured and dropped (``--keep``
leaves it). Prints rows/s over the whole seed (schema, application data, history, primary
key and index built concurrently, ANALYZE) and for the history inserts alone.
"""

from __future__ import annotations

import argparse
import sys
import uuid

import psycopg
from psycopg import sql

from activity_migration.demo.seed import seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("admin_dsn", nargs="?", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--key-type", choices=("uuid", "bigint"), default="uuid")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    args = parser.parse_args(argv)

    name = f"bench_seed_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = conn.execute("SHOW server_version").fetchone()[0]
    dsn = psycopg.conninfo.make_conninfo(args.admin_dsn, dbname=name)
    try:
        result = seed(
            dsn, rows=args.rows, key_type=args.key_type, progress=lambda line: print(f"  {line}", flush=True)
        )
    finally:
        if not args.keep:
            with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    history_rate = args.rows / result["history_seconds"] if result["history_seconds"] else float("nan")
    print(f"PostgreSQL {version}, key type {args.key_type}, database {name}{' (kept)' if args.keep else ''}")
    print(
        f"seed of {args.rows:,} rows: {result['seconds']:.1f} s, {result['rows_per_second']:,.0f} rows/s "
        "overall; "
        f"history inserts alone {result['history_seconds']:.1f} s, {history_rate:,.0f} rows/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
