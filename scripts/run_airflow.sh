#!/usr/bin/env bash
# Run Airflow on this project with the environment scripts/airflow_env.py prepares
# (project DAGs and plugins, no examples, connections/Variables/pools from
# airflow_settings.yaml, local login admin/admin, embedded Postgres when configured).
#
#   scripts/run_airflow.sh standalone                  # UI + scheduler + ... on $MIGRATION_AIRFLOW_PORT (8080)
#   scripts/run_airflow.sh setup                       # db migrate + pools + reserialize, then exit
#   scripts/run_airflow.sh dags-test DAG_ID ['{"mode":"demo"}']
#   scripts/run_airflow.sh env                         # print the export lines
#   scripts/run_airflow.sh <any airflow arguments>     # e.g. dags list, tasks test ...
#
# Environment: MIGRATION_AIRFLOW_HOME (default .local/airflow), MIGRATION_AIRFLOW_PORT (8080),
# MIGRATION_AIRFLOW_PASSWORD (admin), PYTHON (default .venv/bin/python).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
AIRFLOW="$(dirname "$PYTHON")/airflow"
[ -x "$AIRFLOW" ] || AIRFLOW="$(command -v airflow)"
export AIRFLOW_BIN="$AIRFLOW"
# standalone starts its components as `airflow ...` subprocesses: the venv must be first on PATH.
export PATH="$(dirname "$AIRFLOW"):$PATH"

exports="$("$PYTHON" "$ROOT/scripts/airflow_env.py" --shell)"
eval "$exports"

setup() {
    "$AIRFLOW" db migrate >/dev/null
    "$PYTHON" "$ROOT/scripts/airflow_env.py" --create-pools
    "$AIRFLOW" dags reserialize >/dev/null 2>&1 || echo "warning: airflow dags reserialize failed (see airflow dags list-import-errors)" >&2
}

stop_group() {
    local pgid="$1"
    echo "stopping Airflow (process group $pgid)" >&2
    kill -TERM -- "-$pgid" 2>/dev/null || exit 0
    for _ in $(seq 30); do
        kill -0 -- "-$pgid" 2>/dev/null || exit 0
        sleep 0.5
    done
    echo "still running after 15 s: KILL" >&2
    kill -KILL -- "-$pgid" 2>/dev/null || true
    exit 0
}

cmd="${1:-standalone}"
shift || true
case "$cmd" in
    env)
        echo "$exports"
        ;;
    setup)
        setup
        ;;
    standalone)
        setup
        echo "Airflow UI: $AIRFLOW__API__BASE_URL  (user admin, password in $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE)"
        echo "Migration status page: $AIRFLOW__API__BASE_URL/migration-status/"
        cd "$ROOT"
        # airflow standalone stops its children one at a time on Ctrl-C and was seen to linger
        # more than 25 s with defunct children. So it runs in a process group of its own, and
        # Ctrl-C or a TERM to this script stops the whole group: TERM, then KILL after 15 s.
        set -m
        "$AIRFLOW" standalone "$@" &
        airflow_pid=$!
        set +m
        trap 'stop_group "$airflow_pid"' INT TERM
        wait "$airflow_pid" || true
        ;;
    dags-test)
        dag_id="${1:?usage: run_airflow.sh dags-test DAG_ID [CONF_JSON]}"
        conf="${2:-}"
        "$AIRFLOW" db migrate >/dev/null
        cd "$ROOT"
        if [ -n "$conf" ]; then
            exec "$AIRFLOW" dags test "$dag_id" --conf "$conf"
        fi
        exec "$AIRFLOW" dags test "$dag_id"
        ;;
    *)
        cd "$ROOT"
        exec "$AIRFLOW" "$cmd" "$@"
        ;;
esac
