"""The status page read as a person reads it: tables, not JSON; the running phase; the approver;
a banner when staging and production are one database. FastAPI TestClient against a real Postgres
(the seeded demo database, driven forward with the phase helpers of tests/phases/_forward.py)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from _forward import CFG, CTX, p1, p2, record_validation
from activity_migration import ledger
from activity_migration.backfill.planner import PLAN_SETTING
from migration_airflow.status_page import create_app, table_columns, without_paths

# A JSON object or a list of objects printed as text: `{"`, `{'`, `[{`, or `": ` between quotes.
RAW_JSON = re.compile(r"[\{\[]\s*[\"'{]|\"\s*:\s")


class _Text(HTMLParser):
    """The text a reader sees, per <section id=...> (style and script skipped)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {"page": []}
        self.current = ["page"]
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self.skip += 1
        if tag == "section":
            self.current.append(dict(attrs).get("id") or f"section-{len(self.sections)}")
            self.sections.setdefault(self.current[-1], [])

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.skip -= 1
        if tag == "section" and len(self.current) > 1:
            self.current.pop()

    def handle_data(self, data):
        if not self.skip:
            self.sections[self.current[-1]].append(data)


def sections_text(page: str) -> dict[str, str]:
    parser = _Text()
    parser.feed(page)
    return {k: html.unescape(" ".join(v)) for k, v in parser.sections.items()}


def all_text(page: str) -> str:
    return " ".join(sections_text(page).values())


def _alias(dsn: str) -> str:
    """The same database under another spelling of its DSN (keyword form)."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return " ".join(f"{k}={v}" for k, v in info.items())


def _client(staging: str, production: str) -> TestClient:
    dsns = {"staging": staging, "production": production}
    return TestClient(create_app(dsn_resolver=lambda env: dsns[env]))


@pytest.fixture(scope="module")
def phase4_running(pg_admin_dsn, demo_template):
    """A demo database after phases 1 and 2 (approved by alice), with phase 4 copying (started row)."""
    from testdb import create_database, drop_database

    name, dsn = create_database(pg_admin_dsn, template=demo_template)
    p1(dsn)
    run = ledger.RunContext("staging", "normal", "manual__status_page", "admin")
    with psycopg.connect(dsn) as conn:
        ledger.record(conn, "p2_dual_write", "switch_approval", "succeeded", run, actor="alice", cfg=CFG)
    p2(dsn)
    with psycopg.connect(dsn) as conn:
        ledger.record(conn, "p2_dual_write", "switch", "succeeded", run, cfg=CFG)
        ledger.record(conn, "p4_backfill", "copy", "started", CTX, finished=False, cfg=CFG)
        s = CFG.state_schema
        conn.execute(
            f'INSERT INTO "{s}".backfill_chunks (lo, hi, status, rows_copied, started_at, finished_at) '
            "VALUES ('0', '100', 'done', 1000, now() - interval '20 min', now() - interval '19 min'), "
            "('100', NULL, 'pending', 0, NULL, NULL)"
        )
        ledger.set_setting(conn, PLAN_SETTING, {"total_rows": 2000}, cfg=CFG)
        conn.commit()
    for suite in ("parity", "events_integrity"):
        record_validation(dsn, suite, suite == "parity")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            f'UPDATE "{CFG.state_schema}".validation_results SET statistics = %s, data_docs_path = %s',
            (Jsonb({"evaluated_expectations": 6, "successful_expectations": 5}), "/nonexistent/docs/x.html"),
        )
        conn.commit()
    yield dsn
    drop_database(pg_admin_dsn, name)


def test_no_section_renders_a_raw_json_object_or_a_local_path(phase4_running, fresh_db):
    page = _client(phase4_running, fresh_db).get("/?env=staging")
    assert page.status_code == 200
    texts = sections_text(page.text)
    assert {"phases", "ledger", "settings"} <= set(texts)
    for name, text in texts.items():
        assert not RAW_JSON.search(text), (
            f"section {name} shows raw JSON: {RAW_JSON.search(text)!r} in {text!r}"
        )
        assert "/nonexistent/" not in text, f"section {name} shows a local path"
    assert "same-database-banner" not in page.text


def test_running_phase_4_is_the_current_phase_with_its_progress(phase4_running, fresh_db):
    page = all_text(_client(phase4_running, fresh_db).get("/?env=staging").text)
    assert re.search(r"Current phase\s+p4_backfill\s+running: copy since", page), page
    assert "50.0 % copied" in page


def test_backfill_rate_and_finish_time_are_kept_after_the_live_window(phase4_running, fresh_db):
    data = _client(phase4_running, fresh_db).get("/api/status?env=staging").json()
    b = data["overview"]["backfill"]
    # 1000 rows in 60 s, 19 minutes ago: no live rate, the whole-backfill rate instead
    assert b["rows_per_s"] == pytest.approx(16.7, abs=0.1) and b["rate_kind"].startswith("whole backfill")
    assert b["last_finished"]


def test_validation_per_suite_with_counts_and_the_approver_in_the_ledger(phase4_running, fresh_db):
    page = _client(phase4_running, fresh_db).get("/?env=staging").text
    texts = sections_text(page)
    assert page.count('class="validation-row"') == 2
    assert "evaluated expectations 6" in all_text(page) and "FAILED" in all_text(page)
    assert re.search(r"switch\s+succeeded\s+staging\s+normal\s+admin\s+alice", texts["ledger"]), texts[
        "ledger"
    ]


def test_banner_when_staging_and_production_are_one_database(phase4_running):
    client = _client(phase4_running, _alias(phase4_running))
    for env in ("staging", "production"):
        page = client.get(f"/?env={env}").text
        assert 'id="same-database-banner"' in page
        assert "Staging and production are the same database" in sections_text(page)["same-database-banner"]
    assert client.get("/api/status?env=production").json()["same_database"] is True


def test_table_columns_and_paths_are_replaced():
    assert table_columns([{"a": 1}, {"b": 2, "a": 3}]) == ["a", "b"]
    assert table_columns([1, 2]) == [] and table_columns({"a": 1}) == []
    assert without_paths({"p": ["/home/x/artifacts/y.html", "plain text / not a path"]}) == {
        "p": ["(a file on the Airflow server)", "plain text / not a path"]
    }


def test_the_cutoff_is_shown_once(phase4_running, fresh_db):
    texts = sections_text(_client(phase4_running, fresh_db).get("/?env=staging").text)
    assert "cutoff" in texts["section-dual_write"]
    assert "cutoff" not in texts["settings"] and "dual write" not in texts["settings"]


def test_an_interrupted_step_is_not_shown_as_running(demo_db, fresh_db):
    import subprocess

    p1(demo_db)
    gone = subprocess.Popen(["true"])
    gone.wait()  # the worker that started the copy was killed
    with psycopg.connect(demo_db) as conn:
        worker = {**ledger.worker(), "pid": gone.pid}
        ledger.record(
            conn, "p4_backfill", "copy", "started", CTX, {"worker": worker}, finished=False, cfg=CFG
        )
    page = _client(demo_db, fresh_db).get("/?env=staging").text
    text = all_text(page)
    assert re.search(r"Current phase\s+p4_backfill\s+interrupted: copy started", text), text
    assert "process that ran it is gone" in text and "running: copy" not in text
    assert re.search(r"p4_backfill\s+copy\s+interrupted", sections_text(page)["phases"])


def test_plots_of_the_backfill_and_of_the_tiers_write_cost(demo_db, fresh_db):
    p1(demo_db)
    s = CFG.state_schema
    with psycopg.connect(demo_db) as conn:
        for i, p95 in enumerate((4.0, 6.5, 5.0, 9.0)):  # four chunks of 1000 rows, 30 s apart
            conn.execute(
                f'INSERT INTO "{s}".backfill_chunks (lo, hi, status, rows_copied, started_at, finished_at, '
                "app_p95_ms) VALUES (%s, %s, 'done', 1000, now() - make_interval(secs => %s), "
                "now() - make_interval(secs => %s), %s)",
                (str(i), str(i + 1), 130 - 30 * i, 120 - 30 * i, p95),
            )
        for tier, before, after in ((1, 2.0, 1.0), (2, 3.0, None)):
            for purpose, ms in (("baseline", before), ("after_drop", after)):
                if ms is not None:
                    conn.execute(
                        f'INSERT INTO "{s}".perf_samples (purpose, tier, metric, value, details) '
                        "VALUES (%s, %s, 'write_cost', %s, %s)",
                        (purpose, tier, ms, Jsonb({"method": "probe"})),
                    )
        conn.commit()
    client = _client(demo_db, fresh_db)
    plots = client.get("/api/status?env=staging").json()["overview"]["plots"]
    assert plots["tier_write_cost"] == [
        {"tier": 1, "before_ms": 2.0, "after_ms": 1.0, "method": "probe"},
        {"tier": 2, "before_ms": 3.0, "after_ms": None, "method": "probe"},
    ]
    timeline = plots["backfill_timeline"]
    assert sum(p["rows_per_s"] * 90 / 40 for p in timeline) == pytest.approx(4000, rel=0.01)
    assert max(p["app_p95_ms"] for p in timeline) == 9.0
    page = client.get("/?env=staging").text
    backfill = page.split('id="plot-backfill"')[1].split("</div>")[0]
    assert '<polyline class="rate"' in backfill and '<polyline class="latency"' in backfill
    assert "app p95 max 9 ms" in backfill
    tiers_plot = page.split('id="plot-tiers"')[1].split("</div>")[0]
    assert tiers_plot.count('<rect class="before"') == 2 and tiers_plot.count('<rect class="after"') == 1
    assert "tier 1 after: 1 ms" in tiers_plot


def test_the_page_does_not_start_an_embedded_postgres(fresh_db, monkeypatch):
    """A connection to the embedded Postgres that is not running reads as unreachable: showing
    the page starts no database server (it left one running after the tests before)."""
    import json
    import socket

    from activity_migration.embedded import port_is_open
    from migration_airflow.status_page import core_dsn_resolver

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = {"conn_type": "postgres", "host": "127.0.0.1", "port": port, "login": "postgres"}
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB", json.dumps({**spec, "extra": {"embedded": True}}))
    assert str(port) in core_dsn_resolver("production")
    data = _client(fresh_db, core_dsn_resolver("production")).get("/api/status?env=production").json()
    assert "error" in data and not port_is_open("127.0.0.1", port)
