"""The outcome report page in a real browser: headless Debian Chromium opens the self-contained file
(no server, no network), renders it, and the plots are there. The screenshot is kept in
artifacts/screenshots/outcome_report.png (docs/outcome-report.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from e2e_helpers import ROOT

sys.path.insert(0, str(ROOT / "tests" / "phases"))

from _forward import CFG, CTX, p1, p2, p4  # noqa: E402
from activity_migration.outcome import baseline, report  # noqa: E402
from activity_migration.phases import p3_read_path as p3  # noqa: E402

pytestmark = pytest.mark.slow

SCREENSHOT = ROOT / "artifacts" / "screenshots" / "outcome_report.png"


def test_outcome_report_renders_with_its_plots(demo_db, chromium, tmp_path):
    baseline.capture(demo_db, CFG, CTX, phase="p1_infrastructure", window_s=0.2, query_runs=2)
    p1(demo_db)
    p2(demo_db)
    baseline.capture(demo_db, CFG, CTX, phase="p3_read_path", window_s=0.2, query_runs=2)
    p3.apply(demo_db, CFG, CTX)
    p4(demo_db)
    out = report.write_report(demo_db, CFG, out_dir=tmp_path, ctx=CTX, window_s=0.2)
    url = Path(out["html"]).as_uri()

    dom = chromium.dump_dom(url)
    assert "Activity migration: the outcome, measured" in dom
    for plot in ("plot-write-latency", "plot-read-latency"):
        assert re.search(rf"<svg[^>]*id=\"{plot}\"", dom), plot
    # one line per tier, one point per tier and sample; two bars per query measured in both forms
    assert len(re.findall(r"<polyline[^>]*class=\"series\"", dom)) == len(CFG.tiers)
    assert len(re.findall(r"<circle[^>]*class=\"point\"", dom)) == 3 * len(CFG.tiers)
    assert len(re.findall(r"<rect[^>]*class=\"bar legacy\"", dom)) == 5
    assert len(re.findall(r"<rect[^>]*class=\"bar events\"", dom)) == 5
    assert len(re.findall(r"class=\"promise-row\"", dom)) == 6

    chromium.screenshot(url, SCREENSHOT, size="1200,2200")
    assert SCREENSHOT.stat().st_size > 30_000
