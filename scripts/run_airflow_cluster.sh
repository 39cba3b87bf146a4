#!/usr/bin/env bash
# Airflow as a small cluster on loopback (CeleryExecutor, Postgres metadata, Redis, two workers):
# what `make airflow-cluster` runs. Same environment as scripts/run_airflow.sh (airflow_env.py).
#
#   scripts/run_airflow_cluster.sh [--workers 2] [--concurrency 2] [--port 8080] [--metadata-dsn DSN]
#
# Ctrl-C / SIGTERM stops every process it started. See scripts/airflow_cluster.py and docs/scaling.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
# exec: the signal reaches the launcher itself, which stops its components by process id.
exec "$PYTHON" "$ROOT/scripts/airflow_cluster.py" "$@"
