"""Fixtures of the end-to-end tests (helpers live in e2e_helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from e2e_helpers import CHROMIUM, Chromium


@pytest.fixture
def chromium(tmp_path) -> Chromium:
    binary = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if binary is None:
        pytest.fail(
            "Debian's chromium is missing (/usr/bin/chromium): the browser test needs it. "
            "Install it with `apt-get install -y chromium chromium-driver` (the CI script .ci/run "
            "must do this before `make test`).",
            pytrace=False,
        )
    return Chromium(binary, tmp_path / "chromium")
