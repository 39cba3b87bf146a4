"""The ``activity-migration`` command as a user runs it: a subprocess of the installed script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "activity-migration"
UNREACHABLE = "postgresql://x@127.0.0.1:1/db"


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
    )


@pytest.mark.parametrize("command", ["seed", "workload", "status"])
def test_help_exits_0(command):
    out = run(command, "--help")
    assert out.returncode == 0, out.stderr
    assert f"activity-migration {command}" in out.stdout and "--dsn" in out.stdout


def test_top_level_help_lists_the_commands():
    out = run("--help")
    assert out.returncode == 0
    for command in ("seed", "workload", "status"):
        assert command in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["seed", "--rows", "-5"], "argument --rows: expected a positive integer, got -5"),
        (["seed", "--rows", "abc"], "argument --rows: expected a positive integer, got 'abc'"),
        (["seed", "--rows", "10", "--bogus"], "unrecognized arguments: --bogus"),
        (["seed", "--key-type", "int"], "argument --key-type: invalid choice: 'int'"),
        (["workload", "--rate", "0"], "argument --rate: expected a positive number, got 0"),
        (["workload", "--connections", "x"], "argument --connections: expected a positive integer, got 'x'"),
        (["workload", "--publish", "sometimes"], "argument --publish: invalid choice: 'sometimes'"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["seed", "--rows", "10"],
        ["workload", "--seconds", "1", "--rate", "1"],
        ["status"],
    ],
)
def test_unreachable_database_exits_2_saying_cannot_connect(args):
    out = run(*args, "--dsn", UNREACHABLE)
    assert out.returncode == 2
    assert "cannot connect" in out.stderr
    assert "Traceback" not in out.stderr


def test_seed_prints_rows_seconds_and_rate_and_a_reseed_adds_history(fresh_db):
    out = run("seed", "--dsn", fresh_db, "--rows", "2000", "--app-users", "30")
    assert out.returncode == 0, out.stderr
    assert "rows: 2000" in out.stdout and "seconds:" in out.stdout and "rows/s:" in out.stdout
    assert "history: 2,000/2,000 rows" in out.stdout

    again = run("seed", "--dsn", fresh_db, "--rows", "100", "--json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout[again.stdout.index("{") :])
    assert result["reseeded"] is True and result["rows"] == 100


def test_seed_refuses_a_non_empty_database_with_exit_2(fresh_db):
    import psycopg

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.orders (id int)")
    out = run("seed", "--dsn", fresh_db, "--rows", "10")
    assert out.returncode == 2
    assert "refusing to seed a non-empty database" in out.stderr and "orders" in out.stderr


def test_workload_json_report(demo_db):
    out = run("workload", "--dsn", demo_db, "--seconds", "2", "--rate", "20", "--connections", "2", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["transactions_failed"] == 0 and report["transactions_ok"] > 20
    assert set(report["per_table"]) == {
        "users",
        "projects",
        "investors",
        "kyc_verifications",
        "tokens",
        "allocations",
        "wallets",
        "investments",
        "payment_plans",
        "payments",
        "subscriptions",
        "distributions",
        "templates",
        "configurations",
        "documents",
        "notifications",
        "bulk_operations",
        "emails",
    }
    assert {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "achieved_rate", "errors"} <= set(report)


def test_backfill_cli_refuses_allow_without_cutoff_in_production(capsys):
    """The command line obeys the DAG's production rule: no backfill without phase 2's cutoff."""
    from activity_migration.cli import main

    code = main(
        [
            "backfill",
            "--dsn",
            "postgresql://nobody@127.0.0.1:1/none",
            "--environment",
            "production",
            "--allow-without-cutoff",
            "--dry-run",
        ]
    )
    assert code != 0
    assert "allow_without_cutoff" in capsys.readouterr().err


def test_without_connections_the_error_names_the_connection_of_the_environment_asked(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_ACTIVITY_DB")}
    env["ACTIVITY_MIGRATION_SETTINGS"] = str(tmp_path / "none.yaml")  # no airflow_settings.yaml either
    run = subprocess.run(
        [sys.executable, "-m", "activity_migration.cli", "status", "--environment", "staging"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode != 0
    assert (
        "'activity_db_staging' is not configured" in run.stderr
        and "AIRFLOW_CONN_ACTIVITY_DB_STAGING" in run.stderr
    )
