"""Approvals in the Airflow 3.3 UI, in a real browser (issue 23): log in, trigger, approve, reject.

A real `airflow standalone` (tests/e2e/airflow_server.py: SQLite metadata, private AIRFLOW_HOME, this
checkout's DAGs and plugins) against a fresh demo database, driven by headless Debian Chromium through
Playwright (``executable_path=/usr/bin/chromium``, the flags of e2e_helpers.CHROMIUM_FLAGS) at
1280x800:

1. log in through the simple auth manager's login page (user and password from the harness's
   passwords file);
2. phase 1 runs over REST (as in test_standalone_approvals.py); phase 2 is triggered from the UI's
   Trigger dialog with its defaults (environment staging, mode normal: checked in the form and in the
   run's conf);
3. the approval is opened from Required Actions; its three-line summary (the labels of
   ``approval_text.summary_block``: "Will change:", "Risk:", "Undo:") must be inside the first screen,
   without scrolling; Approve is clicked and the run must succeed, its note naming the approver;
4. phase 4's backfill is run through the core (tests/phases/_forward.py: what phase 5's parity gate
   needs; phase 3 is not a precondition), the demo workload writes in the background (the readiness
   sensor needs writes), phase 5 tier 1 is triggered from the UI with ``sensor_window_seconds`` 5 and
   ``probe_writes`` 30 typed into the form; at its approval the summary is checked the same way, Reject
   is clicked, and the run's page must show "Rejected by <user>" in its note in the first screen; the
   ledger row (state schema and the Migration status page) names the approver;
5. every step leaves a screenshot: the directory is printed and copied to ``artifacts/e2e/approvals/``.

The DAGs are unpaused over REST before the UI triggers them: the Trigger dialog's "Unpause on trigger"
sends its PATCH in parallel with the POST of the run, and the standalone's SQLite answers one of the two
with a 500 ("database is locked") often enough on a loaded machine to leave the run queued forever.
The approver waits a few seconds after the task is parked, as a person would (docs/platform-notes.md).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psycopg
import pytest
from airflow_server import AirflowServer
from e2e_helpers import CHROMIUM, CHROMIUM_FLAGS, ROOT

from activity_migration import catalog, tiers
from activity_migration.approval_text import summary_block
from activity_migration.config import load_config
from activity_migration.db import connection, fetch_all

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

P1, P2, P5 = "migration_p1_infrastructure", "migration_p2_dual_write", "migration_p5_trigger_removal"
CONF = {"environment": "staging", "mode": "normal"}
VIEWPORT = {"width": 1280, "height": 800}
HUMAN_DELAY_S = 3
UI_TIMEOUT_MS = 90_000  # a loaded 2-core machine can stall the API server for a while
ARTIFACTS = ROOT / "artifacts" / "e2e" / "approvals"
CFG = load_config()


def summary_labels() -> list[str]:
    """The bold labels that open every approval body ("Will change:", "Risk:", "Undo:")."""
    lines = summary_block(change="c", risk="r", undo="u", environment="staging")
    labels = [m.group(1) for line in lines if (m := re.match(r"- \*\*(.+?)\*\* ", line))]
    assert len(labels) == 3, lines
    return labels


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright; fails (never skips) when either is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Debian's chromium is missing ({CHROMIUM}): the approvals browser test needs it. Install it "
            "with `apt-get install -y chromium chromium-driver` (scripts/ensure_test_tools.sh does).",
            pytrace=False,
        )
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError as exc:
        pytest.fail(
            f"the Python package playwright is missing ({exc}): `pip install -r requirements.txt` "
            "(it drives /usr/bin/chromium; no browser download is needed).",
            pytrace=False,
        )
    expect.set_options(timeout=UI_TIMEOUT_MS)  # expect's own default is 5 s, short for a loaded machine
    with sync_playwright() as pw:
        # Playwright adds --headless itself and gives the browser a fresh temporary profile.
        args = [f for f in CHROMIUM_FLAGS if f != "--headless"]
        try:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        except Exception as exc:  # a browser that does not start is a failure with its reason
            pytest.fail(f"{CHROMIUM} did not start under Playwright: {exc}", pytrace=False)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def airflow(tmp_path_factory) -> Iterator[AirflowServer]:
    server = AirflowServer(tmp_path_factory.mktemp("airflow_home"))
    try:
        server.start()
        for dag_id in (P1, P2, P5):
            server.wait_for_dag(dag_id)
        yield server
    finally:
        server.stop()


@pytest.fixture
def shots(tmp_path, capsys) -> Iterator[Path]:
    """Screenshot directory (pytest tmp dir); copied to artifacts/e2e/approvals/ at the end, pass or fail."""
    out = tmp_path / "screenshots"
    out.mkdir()
    yield out
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    shutil.copytree(out, ARTIFACTS)
    lines = [f"approval screenshots: {out}", f"  copied to {ARTIFACTS}"]
    lines += [f"  {p.name}" for p in sorted(ARTIFACTS.glob("*.png"))]
    with capsys.disabled():  # shown whether the test passed or failed
        print("\n" + "\n".join(lines))


# ---------------------------------------------------------------------------------------------- the UI
class AirflowUi:
    """One logged-in browser page on the standalone's UI, with the steps this test takes."""

    def __init__(self, page: Any, airflow: AirflowServer, shots: Path) -> None:
        self.page = page
        self.airflow = airflow
        self.base = airflow.base
        self.shots = shots
        self._n = 0

    def shot(self, name: str) -> Path:
        """The viewport as the person sees it (never a full-page capture)."""
        self._n += 1
        path = self.shots / f"{self._n:02d}_{name}.png"
        self.page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000, f"screenshot {path} is empty"
        return path

    def login(self, user: str, password: str) -> None:
        from playwright.sync_api import expect

        self.page.goto(self.base + "/")
        self.page.wait_for_url(re.compile(r".*/auth/login.*"))
        expect(self.page.get_by_text("Sign into Airflow")).to_be_visible()
        self.page.get_by_label("Username").fill(user)
        self.page.get_by_label("Password").fill(password)
        self.shot("login")
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(lambda url: "/auth/login" not in url)
        expect(self.page.get_by_role("link", name="Dags")).to_be_visible()

    def trigger(self, dag_id: str, *, expect_form: dict[str, str], type_in: dict[str, str]) -> str:
        """Trigger ``dag_id`` from its page's Trigger dialog; returns the new run's id (from the URL).

        ``expect_form``: Param -> value the form must hold (hidden value of a select, e.g. environment);
        ``type_in``: field label -> text typed into that field.
        """
        from playwright.sync_api import expect

        page = self.page
        page.goto(f"{self.base}/dags/{dag_id}")
        expect(page.get_by_text(dag_id, exact=True).first).to_be_visible()
        page.get_by_role("button", name="Trigger Dag", exact=True).click()  # aria-label of the header button
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text(f"Trigger Dag - {dag_id}")).to_be_visible()
        expect(dialog.get_by_text("Run Parameters")).to_be_visible()
        for param, value in expect_form.items():
            expect(dialog.locator(f"input[name='element_{param}']")).to_have_value(value)
        for label, text in type_in.items():
            field = dialog.get_by_label(label)
            field.fill(text)
            field.press("Tab")
            expect(field).to_have_value(text)
        self.shot(f"{dag_id}_trigger_dialog")
        before = {
            r["dag_run_id"] for r in self.airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
        }
        for attempt in range(3):
            dialog.get_by_role("button", name="Trigger", exact=True).click()
            triggered = page.get_by_text("Dag Run Triggered")
            failed = page.get_by_text("Failed to Trigger Dag")
            expect(triggered.or_(failed).first).to_be_visible()
            if not failed.count():
                break
            # The standalone's SQLite answered "database is locked" (nothing written): a person would
            # press Trigger again. Make sure no run was created before doing so.
            now = {
                r["dag_run_id"] for r in self.airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
            }
            if now - before:
                break
            assert attempt < 2, f"the UI could not trigger {dag_id} three times:\n{self.airflow.log_tail()}"
            expect(failed).to_have_count(0)
        page.wait_for_url(re.compile(rf".*/dags/{dag_id}/runs/[^/]+$"))
        run_id = unquote(page.url.rsplit("/runs/", 1)[1])
        self.shot(f"{dag_id}_triggered")
        return run_id

    def open_approval(self, subject: str, dag_id: str, run_id: str, task_id: str) -> None:
        """From Required Actions, open the pending approval with this subject (its task's page)."""
        from playwright.sync_api import expect

        page = self.page
        page.goto(self.base + "/required_actions")
        link = page.get_by_role("link", name=subject, exact=True)
        expect(link.first).to_be_visible()
        self.shot(f"{dag_id}_required_actions")
        link.first.click()
        page.wait_for_url(re.compile(rf".*/dags/{dag_id}/runs/.+/tasks/{task_id}/required_actions$"))
        assert unquote(page.url).split("/runs/", 1)[1].startswith(run_id + "/"), page.url
        expect(page.get_by_role("button", name="Approve", exact=True)).to_be_attached()

    def summary_in_first_screen(self, labels: list[str]) -> dict[str, Any]:
        """Where the summary lines are, once the layout is still; asserts each is fully in the viewport,
        on top (nothing covers it) and that nothing is scrolled."""
        from playwright.sync_api import expect

        for label in labels:
            expect(self.page.get_by_text(label, exact=True).first).to_be_visible()
        previous = None
        deadline = time.monotonic() + 20
        while True:  # the layout settles (fonts, late panels): two equal readings 250 ms apart
            found = self.page.evaluate(_MEASURE_JS, labels)
            if found == previous or time.monotonic() > deadline:
                break
            previous = found
            self.page.wait_for_timeout(250)
        vw, vh = found["vw"], found["vh"]
        assert (vw, vh) == (VIEWPORT["width"], VIEWPORT["height"]), found
        assert found["windowScrollY"] == 0 and not found["scrolled"], f"the page was scrolled: {found}"
        for line in found["lines"]:
            assert line["found"], f"summary line {line['label']!r} not on the page: {found}"
            inside = 0 <= line["top"] and line["bottom"] <= vh and 0 <= line["left"] and line["right"] <= vw
            assert inside, (
                f"summary line {line['label']!r} is not inside the first screen ({vw}x{vh}): top "
                f"{line['top']:.0f}, bottom {line['bottom']:.0f}, left {line['left']:.0f}, right "
                f"{line['right']:.0f}; text {line['text']!r}"
            )
            assert line["onTop"], f"summary line {line['label']!r} is covered by another element: {line}"
        return found

    def answer(self, option: str, task_id: str) -> None:
        from playwright.sync_api import expect

        self.page.get_by_role("button", name=option, exact=True).click()
        ok = self.page.get_by_text(f"{task_id} response successful")
        failed = self.page.get_by_text("Response failed")
        expect(ok.or_(failed).first).to_be_visible()
        assert not failed.count(), f"the UI says the {option} of {task_id} failed"

    def run_page(self, dag_id: str, run_id: str, note_starts: str) -> dict[str, float]:
        """The run's page, fresh; the note (decision listener) must be in the first screen."""
        from playwright.sync_api import expect

        page = self.page
        page.goto(f"{self.base}/dags/{dag_id}/runs/{run_id}")
        expect(page.get_by_text(run_id, exact=True).first).to_be_visible()
        expect(page.get_by_text("Success", exact=True).first).to_be_visible()
        note = page.get_by_text(re.compile(re.escape(note_starts))).first
        expect(note).to_be_visible()
        box = note.bounding_box()
        assert box is not None
        assert 0 <= box["y"] and box["y"] + box["height"] <= VIEWPORT["height"], (
            f"the run's note is not in the first screen: {box}"
        )
        return box


# What the summary lines occupy: each label's <li> (or parent), whether it is on top at the label,
# and which elements are scrolled.
_MEASURE_JS = """
(labels) => {
  const out = [];
  for (const label of labels) {
    const strong = [...document.querySelectorAll('strong, b')].find(e => e.textContent.trim() === label);
    if (!strong) { out.push({label, found: false}); continue; }
    const line = strong.closest('li') || strong.parentElement;
    const r = line.getBoundingClientRect();
    const s = strong.getBoundingClientRect();
    const hit = document.elementFromPoint(s.left + s.width / 2, s.top + s.height / 2);
    out.push({label, found: true, top: r.top, bottom: r.bottom, left: r.left, right: r.right,
              onTop: !!hit && line.contains(hit), text: line.innerText.slice(0, 160)});
  }
  const scrolled = [...document.querySelectorAll('*')]
    .filter(e => e.scrollTop > 0 || e.scrollLeft > 0)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''));
  return {vw: window.innerWidth, vh: window.innerHeight, windowScrollY: window.scrollY, scrolled,
          lines: out};
}
"""


# ---------------------------------------------------------------------------------------------- helpers
def _login_of(airflow: AirflowServer) -> tuple[str, str]:
    """The user and password the harness gave the simple auth manager (its passwords file)."""
    users = json.loads(Path(airflow.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
    return next(iter(users.items()))


def _unpause(airflow: AirflowServer, dag_id: str) -> None:
    airflow.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})


def _wait_parked(airflow: AirflowServer, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    """The pending approval, once its task has been parked (awaiting_input) for HUMAN_DELAY_S."""
    hitl = airflow.wait_for_approval(dag_id, run_id, timeout=600)
    assert hitl["task_instance"]["task_id"] == task_id, hitl
    deadline = time.monotonic() + 120
    while airflow.task_states(dag_id, run_id)[task_id] != "awaiting_input":
        assert time.monotonic() < deadline, f"{task_id} never parked: {airflow.task_states(dag_id, run_id)}"
        time.sleep(0.5)
    time.sleep(HUMAN_DELAY_S)
    return hitl


def _approval_rows(dsn: str, run_id: str) -> list[dict[str, Any]]:
    """The run's approval rows of the ledger (step ``*_approval``), oldest first."""
    with connection(dsn) as conn:
        return fetch_all(
            conn,
            f'SELECT step, status, actor, details FROM "{CFG.state_schema}".phase_ledger '
            "WHERE dag_run_id = %s AND step LIKE %s ORDER BY id",
            (run_id, "%\\_approval"),
        )


# ---------------------------------------------------------------------------------------------- the test


# What each approval is answered with: (task, subject, button).
DECISIONS = {
    P2: ("switch_approval", "Switch staging to dual write (phase 2)?", "Approve"),
    P5: ("tier_drop_approval", "Drop trigger tier 1 in staging (phase 5)?", "Reject"),
}


def _decide(ui, airflow, dag: str, run: str, labels) -> None:
    """Wait for the run's approval, open it from Required Actions, check the summary is in the
    first screen, screenshot it, answer it as ``DECISIONS`` says."""
    task, subject, button = DECISIONS[dag]
    _wait_parked(airflow, dag, run, task)
    ui.open_approval(subject, dag, run, task)
    ui.summary_in_first_screen(labels)
    ui.shot(f"{'p2' if dag == P2 else 'p5'}_approval_first_screen")
    ui.answer(button, task)


def _decision_shown(ui, dsn: str, where: tuple[str, str], note: str, row: tuple[str, str, str]) -> None:
    """The run's page shows ``note`` in its first screen (screenshot kept); the ledger holds ``row``
    = (step, status, actor) as the run's only approval row."""
    dag, run = where
    ui.run_page(dag, run, note)
    ui.shot(f"{'p2_run_approved' if dag == P2 else 'p5_run_rejected'}")
    rows = _approval_rows(dsn, run)
    assert [(r["step"], r["status"], r["actor"]) for r in rows] == [row], rows


def test_approve_phase_2_and_reject_phase_5_in_the_browser(browser, airflow, demo_db, shots):
    from _forward import p4

    labels = summary_labels()
    user, password = _login_of(airflow)
    airflow.set_postgres_connection("activity_db_staging", demo_db)
    run_1 = airflow.trigger(P1, CONF)
    assert airflow.wait_run(P1, run_1) == "success", airflow.task_states(P1, run_1)

    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    ui = AirflowUi(page, airflow, shots)
    try:
        ui.login(user, password)

        # Phase 2: trigger in the UI (defaults: staging, normal), approve in the UI.
        _unpause(airflow, P2)
        run_2 = ui.trigger(P2, expect_form=CONF, type_in={})
        conf = airflow.api("GET", airflow.run_path(P2, run_2))["conf"]
        assert {k: conf.get(k) for k in CONF} == CONF, conf
        _decide(ui, airflow, P2, run_2, labels)
        state = airflow.wait_run(P2, run_2)
        tasks = airflow.task_states(P2, run_2)
        assert state == "success", f"phase 2 ended {state}: {tasks}\n{airflow.log_tail()}"
        assert tasks["switch"] == "success" and tasks["verify"] == "success", tasks
        _decision_shown(
            ui, demo_db, (P2, run_2), f"Approved by {user} at ", ("switch_approval", "succeeded", user)
        )

        # Phase 5 tier 1: state prepared through the core, workload writing, trigger and reject in the UI.
        p4(demo_db)
        from workload_helper import Background

        workload = Background(demo_db, publish="auto", rate=60, connections=3, seconds=900)
        try:
            _unpause(airflow, P5)
            run_5 = ui.trigger(
                P5,
                expect_form={**CONF, "tier": "1"},
                type_in={"Sensor window (s)": "5", "Probe writes per table": "30"},
            )
            conf = airflow.api("GET", airflow.run_path(P5, run_5))["conf"]
            assert conf.get("tier") == 1 and conf.get("sensor_window_seconds") == 5, conf
            assert conf.get("probe_writes") == 30 and {k: conf.get(k) for k in CONF} == CONF, conf
            _decide(ui, airflow, P5, run_5, labels)
            state = airflow.wait_run(P5, run_5)
        finally:
            report = workload.stop()
        tasks = airflow.task_states(P5, run_5)
        assert state == "success", f"a rejected tier ends cleanly, not failed: {state} {tasks}"
        assert tasks["tier_drop_approval"] == "success" and tasks["drop"] == "skipped", tasks
        assert report.failed == 0, report.summary()

        # At a glance: the run's note names the decision and the approver, in the first screen.
        _decision_shown(
            ui, demo_db, (P5, run_5), f"Rejected by {user} at ", ("tier_1_drop_approval", "rejected", user)
        )
        with psycopg.connect(demo_db) as conn:
            still = {t.table for t in catalog.logging_triggers(conn, CFG)}
            tier_1 = tiers.tier_states(conn, CFG).get(1, {})
        assert set(CFG.tier(1).table_names) <= still, "a rejected tier keeps its triggers"
        assert tier_1.get("status") != "dropped", tier_1

        # The ledger row with the approver, on the Migration status page (same login).
        page.goto(airflow.base + "/migration-status/?env=staging")
        from playwright.sync_api import expect

        # Phases table (the newest ledger row of each phase) in the first screen, then the ledger table.
        newest = (
            page.locator("tr").filter(has_text="p5_trigger_removal").filter(has_text="tier_1_drop_approval")
        )
        expect(newest.first).to_be_visible()
        assert re.search(rf"\brejected\b.*\b{re.escape(user)}\b", newest.first.inner_text(), re.S), (
            newest.first.inner_text()
        )
        ui.shot("status_page_rejected")
        row = page.locator("tr.ledger-row").filter(has_text="tier_1_drop_approval")
        expect(row).to_have_count(1)
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        assert cells[2:4] == ["tier_1_drop_approval", "rejected"] and cells[6] == user, cells
        assert cells[7] == f"{user} (rejected)", cells  # the "Approved by" column
        row.scroll_into_view_if_needed()
        ui.shot("status_page_ledger_row")
    except BaseException:
        try:
            ui.shot("failure")
        except Exception:  # the page itself may be gone
            pass
        raise
    finally:
        context.close()
