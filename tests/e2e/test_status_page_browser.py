"""The status page in a real browser: headless Debian Chromium against the FastAPI app (uvicorn).

The database holds a known migration state (ledger rows, quarantine, backfill chunks, tiers,
a validation result with Data Docs); the test reads the rendered DOM and compares it with
what the database says, and keeps a screenshot in artifacts/screenshots/status_page.png.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from e2e_helpers import ROOT, DomIndex, free_port, wait_http
from psycopg.types.json import Jsonb

from activity_migration import ledger
from activity_migration.backfill.planner import PLAN_SETTING
from activity_migration.config import load_config
from activity_migration.db import connection, scalar
from activity_migration.status import collect
from dagrun import conn_uri

pytestmark = pytest.mark.slow

SCREENSHOT = ROOT / "artifacts" / "screenshots" / "status_page.png"


def _seed_state(dsn: str) -> None:
    cfg = load_config()
    s = cfg.state_schema
    with connection(dsn) as conn:
        ledger.ensure_state_schema(conn, cfg)
        ctx = ledger.RunContext("staging", "normal", "manual__browser", None)
        ledger.record(conn, "p1_infrastructure", "apply", "succeeded", ctx, actor="admin")
        ledger.record(conn, "p2_dual_write", "switch_approval", "succeeded", ctx, actor="alice")
        ledger.record(conn, "p2_dual_write", "switch", "succeeded", ctx, actor="admin")
        ledger.record(conn, "p4_backfill", "copy", "started", ctx, finished=False)
        with conn.transaction():
            conn.execute(
                f'INSERT INTO "{s}".quarantine (legacy_id, reason, original_row, resolved_at) VALUES '
                "('a', 'unknown entity_type', '{}', NULL), ('b', 'null created_at', '{}', NULL), "
                "('c', 'unknown entity_type', '{}', now())"
            )
            conn.execute(
                f'INSERT INTO "{s}".backfill_chunks (lo, hi, status, rows_copied, started_at, finished_at) '
                "VALUES ('0', '100', 'done', 1000, now() - interval '20 s', now() - interval '10 s'), "
                "('100', '200', 'done', 1000, now() - interval '10 s', now()), "
                "('200', '300', 'pending', 0, NULL, NULL), ('300', NULL, 'pending', 0, NULL, NULL)"
            )
            conn.execute(
                f'INSERT INTO "{s}".tier_state (tier, status) VALUES (1, %s), (2, %s), (3, %s)',
                ("verified", "dropped", "backed_up"),
            )
            conn.execute(
                f'INSERT INTO "{s}".validation_results (suite, success, statistics, data_docs_path, '
                "environment) "
                "VALUES ('parity', true, %s, %s, 'staging')",
                (
                    Jsonb({"evaluated_expectations": 6, "successful_expectations": 6}),
                    "browser_test/index.html",
                ),
            )
            ledger.set_setting(conn, PLAN_SETTING, {"total_rows": 4000}, cfg=cfg)


@pytest.fixture
def status_server(fresh_db, tmp_path):
    _seed_state(fresh_db)
    docs = tmp_path / "data_docs"
    (docs / "browser_test").mkdir(parents=True)
    (docs / "browser_test" / "index.html").write_text(
        "<html><body><h1 id='gx'>Parity suite: 6 of 6 passed</h1></body></html>"
    )
    port = free_port()
    # Production deliberately points at nothing: the page must say so, not crash (and no test
    # starts the embedded server as a side effect).
    env = {
        **os.environ,
        "AIRFLOW_CONN_ACTIVITY_DB_STAGING": conn_uri(fresh_db),
        "ACTIVITY_MIGRATION_DATA_DOCS": str(docs),
        "AIRFLOW_CONN_ACTIVITY_DB": f"postgresql://postgres@127.0.0.1:{free_port()}/nothing_here",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "migration_airflow.status_page:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/static/status_page.css", 30, proc=proc)
        yield f"http://127.0.0.1:{port}", fresh_db
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_status_page_shows_the_database_state(status_server, chromium):
    base, dsn = status_server
    dom = DomIndex(chromium.dump_dom(base + "/?env=staging"))

    cfg = load_config()
    with connection(dsn) as conn:
        status = collect(conn, cfg)
        ledger_rows = ledger.history(conn, 25, cfg)
        open_quarantine = scalar(
            conn, f'SELECT count(*) FROM "{cfg.state_schema}".quarantine WHERE resolved_at IS NULL'
        )

    assert "error" not in dom.by_id, dom.by_id.get("error")
    # phase 4's copy step is started and unfinished: it is the running phase
    assert dom.by_id["current-phase"] == status["phases"]["current_phase"] == "p4_backfill"
    assert status["phases"]["current_state"] == "running"
    assert dom.by_id["quarantine-count"] == str(open_quarantine) == "2"
    assert dom.by_id["tiers-done"].startswith("2")
    assert "active" in dom.attrs_by_id["env-staging"]["class"]

    # Every ledger row the database has (newest first), with status and actor.
    shown = dom.rows["ledger-row"]
    assert [int(r[0]) for r in shown] == [r["id"] for r in ledger_rows]
    for cells, row in zip(shown, ledger_rows):
        assert cells[1:4] == [row["phase"], row["step"], row["status"]]
        assert cells[6] == (row["actor"] or "")
    approval = next(c for c in shown if c[2] == "switch_approval")
    assert approval[6] == "alice"

    # Per-phase table: the newest row of each phase.
    phases = {r[0]: r for r in dom.rows["phase-row"]}
    assert phases["p4_backfill"][1:3] == ["copy", "started"]
    assert phases["p6_cleanup"][1] == "not started"

    # Backfill: 2000 of 4000 rows (2 of 4 chunks) in ~20 s -> a rate and an ETA.
    assert dom.by_id["backfill-percent"] == "50.0 %"
    assert "2000 of 4000 rows" in dom.by_id["backfill"] and "2 of 4 chunks" in dom.by_id["backfill"]
    assert float(dom.by_id["backfill-rate"]) > 0
    assert dom.by_id["backfill-eta"] != "unknown"

    # The last validation links to its Data Docs, which the same app serves.
    assert dom.by_id["validation-result"] == "passed"
    href = dom.attrs_by_id["data-docs-link"]["href"]
    docs = DomIndex(chromium.dump_dom(base + href))
    assert docs.by_id["gx"] == "Parity suite: 6 of 6 passed"

    # The environment switch: production has no server here -> a clear error, the page still renders.
    prod = DomIndex(chromium.dump_dom(base + "/?env=production"))
    assert "active" in prod.attrs_by_id["env-production"]["class"]
    assert "cannot connect" in prod.by_id["error"]
    assert prod.by_id["current-phase"] == "none yet"

    chromium.screenshot(base + "/?env=staging", SCREENSHOT)


def test_status_json_matches_the_page(status_server):
    import json
    import urllib.request

    base, dsn = status_server
    with urllib.request.urlopen(base + "/api/status?env=staging", timeout=10) as resp:
        data = json.load(resp)
    assert data["sections"]["phases"]["current_phase"] == "p4_backfill"
    assert data["overview"]["quarantine"]["open"] == 2
    assert data["overview"]["backfill"]["chunks_done"] == 2
    assert data["overview"]["backfill"]["rows_total"] == 4000
    assert data["overview"]["validations"][0]["data_docs_href"] == "data-docs/browser_test/index.html"
