#!/usr/bin/env python3
"""Prepare a local Airflow for this project: home, folders, login, connections, Variables, pools.

Reads ``airflow_settings.yaml`` (the Astronomer file) through ``activity_migration.connections``
and turns it into the environment Airflow reads at start-up, so ``airflow standalone`` and
``airflow dags test`` see the project's DAGs, plugins, connections and Variables and none of
Airflow's examples. A connection marked ``embedded: true`` starts the project's private
Postgres first, so the connection points at a running server. A connection already set in
the environment (``AIRFLOW_CONN_<ID>``) wins over the file, as everywhere else in the project.

Login (local only): user ``admin``, password ``admin`` (SimpleAuthManager, written to
``$AIRFLOW_HOME/simple_auth_manager_passwords.json``). Change ``--password`` for anything
reachable from another machine.

Usage::

    .venv/bin/python scripts/airflow_env.py --shell            # export lines, for eval
    .venv/bin/python scripts/airflow_env.py --json             # the same as JSON
    .venv/bin/python scripts/airflow_env.py --create-pools     # `airflow pools set` for each pool

No Airflow import here: this runs before Airflow is configured.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOME = PROJECT_ROOT / ".local" / "airflow"
DEFAULT_PORT = 8080
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"  # local only: documented in docs/airflow-ui.md

sys.path.insert(0, str(PROJECT_ROOT / "include"))  # works without the editable install too


def connection_env(*, start_embedded: bool = True, environ: dict[str, str] | None = None) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` for every connection in airflow_settings.yaml not already set in ``environ``."""
    from activity_migration.connections import env_var_name, resolve_dsn, settings_connections

    environ = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for conn_id, spec in settings_connections().items():
        name = env_var_name(conn_id)
        if environ.get(name):
            continue  # the environment wins (a real database, a test database)
        if spec.embedded and start_embedded:
            resolve_dsn(conn_id)  # starts the embedded server and creates the database
        out[name] = spec.uri()
    return out


def variable_env() -> dict[str, str]:
    from activity_migration.connections import settings_variables

    return {"AIRFLOW_VAR_" + name.upper(): value for name, value in settings_variables().items()}


def write_passwords_file(home: Path, user: str, password: str) -> Path:
    path = home / "simple_auth_manager_passwords.json"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({user: password}) + "\n")
    path.chmod(0o600)
    return path


def build_env(
    *,
    home: Path = DEFAULT_HOME,
    port: int = DEFAULT_PORT,
    host: str = "localhost",
    user: str = ADMIN_USER,
    password: str = ADMIN_PASSWORD,
    start_embedded: bool = True,
    environ: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every environment variable a local Airflow for this project needs (the caller exports them)."""
    home = Path(home).resolve()
    passwords = write_passwords_file(home, user, password)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        # Workers call {base_url}/execution/: move both together (docs/platform-notes.md).
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://{host}:{port}",
        # New DAG files show up quickly; `airflow dags reserialize` makes them appear at once.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # The project's own packages, whether or not the venv has them installed editable.
        "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT / "include"), str(PROJECT_ROOT / "plugins")]
            + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
        ),
    }
    env.update(variable_env())
    env.update(connection_env(start_embedded=start_embedded, environ=environ))
    return env


def create_pools(airflow_bin: str = "airflow", env: dict[str, str] | None = None) -> None:
    """``airflow pools set`` for every pool in airflow_settings.yaml (after ``airflow db migrate``)."""
    from activity_migration.connections import settings_pools

    for pool in settings_pools():
        subprocess.run(
            [
                airflow_bin,
                "pools",
                "set",
                pool["pool_name"],
                str(pool.get("pool_slot", 1)),
                pool.get("pool_description", "") or "",
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )


def add_home_and_port(p: argparse.ArgumentParser, home_env: str, default_home: Path) -> None:
    """--home (default from ``home_env``, else ``default_home``) and --port (MIGRATION_AIRFLOW_PORT):
    this script's and scripts/airflow_cluster.py's."""
    p.add_argument(
        "--home",
        type=Path,
        default=Path(os.environ.get(home_env, default_home)),
        help=f"AIRFLOW_HOME (default {default_home.relative_to(PROJECT_ROOT)})",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("MIGRATION_AIRFLOW_PORT", DEFAULT_PORT)),
        help=f"API server / UI port (default {DEFAULT_PORT})",
    )


def add_password(p: argparse.ArgumentParser, default: str | None) -> None:
    """--password of the local admin user (MIGRATION_AIRFLOW_PASSWORD, else ``default``)."""
    p.add_argument(
        "--password",
        default=os.environ.get("MIGRATION_AIRFLOW_PASSWORD", default),
        help=f"password of the local admin user (default: {ADMIN_PASSWORD})",
    )


def main(argv: list[str] | None = None) -> int:
    from activity_migration.commands._common import add_flags

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_flags(
        p.add_mutually_exclusive_group(),
        {
            "--shell": "print `export NAME=value` lines (default)",
            "--json": "print the environment as JSON",
            "--create-pools": "run `airflow pools set` for each pool "
            "(needs the environment already exported)",
        },
    )
    add_home_and_port(p, "MIGRATION_AIRFLOW_HOME", DEFAULT_HOME)
    add_password(p, ADMIN_PASSWORD)
    add_flags(p, {"--no-embedded": "do not start the embedded Postgres"})
    args = p.parse_args(argv)

    if args.create_pools:
        create_pools(os.environ.get("AIRFLOW_BIN", "airflow"))
        return 0
    env = build_env(
        home=args.home, port=args.port, password=args.password, start_embedded=not args.no_embedded
    )
    if args.json:
        print(json.dumps(env, indent=2, sort_keys=True))
    else:
        for name, value in env.items():
            print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
