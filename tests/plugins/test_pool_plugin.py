"""A fresh Airflow gets the application-database pool as soon as the plugins load."""

from __future__ import annotations

import os
import subprocess

from dagrun import AIRFLOW, ROOT


def test_plugin_creates_missing_pool_and_keeps_an_existing_one(tmp_path):
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/a.db",
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    run = lambda *a: subprocess.run([AIRFLOW, *a], env=env, capture_output=True, text=True, timeout=300)  # noqa: E731
    assert run("db", "migrate").returncode == 0
    assert "activity_db" not in run("pools", "list").stdout
    run("plugins")  # loads the plugins, as the scheduler and API server do
    listing = run("pools", "list").stdout
    assert "activity_db" in listing and "| 4 " in listing.replace("  ", " ")
    assert run("pools", "set", "activity_db", "9", "tuned by the platform team").returncode == 0
    run("plugins")
    assert "tuned by the platform team" in run("pools", "list").stdout
