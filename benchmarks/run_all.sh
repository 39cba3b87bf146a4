#!/usr/bin/env bash
# Every benchmark, one after another (they share the machine: never run two at once).
# Each prints its own side-by-side ratios. BENCH_ROWS scales the row counts (default: the
# sizes the issues name: 1M for the seed, 2M for backfill and parity).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
ADMIN_DSN="${ADMIN_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}"
ROWS="${BENCH_ROWS:-2000000}"
SEED_ROWS="${BENCH_SEED_ROWS:-1000000}"
run() { echo; echo "== $*"; "$@"; }
run $PY benchmarks/seed_throughput.py --rows "$SEED_ROWS" "$ADMIN_DSN"
run $PY benchmarks/dual_write_latency.py --admin-dsn "$ADMIN_DSN"
run $PY benchmarks/backfill_vs_insert_select.py --rows "$ROWS" --workers 2 --admin-dsn "$ADMIN_DSN"
run $PY benchmarks/tier_write_cost.py --dsn "$ADMIN_DSN"
run $PY benchmarks/parity_suite_vs_sql.py --rows "$ROWS" --admin-dsn "$ADMIN_DSN"
run $PY benchmarks/activity_queries_old_vs_new.py --rows "$ROWS" --admin-dsn "$ADMIN_DSN"
