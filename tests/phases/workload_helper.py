"""Application writes in a background thread while a test drives a phase (or a DAG run).

The demo workload generator (``activity_migration.demo.workload.run_workload``) plays the app
as ``authenticated`` users; with ``publish="auto"`` it publishes events itself for tables that no
longer have logging triggers. Import with ``from workload_helper import Background`` (tests/phases
is on the test path: pyproject's pytest ``pythonpath``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

import pytest


class Background:
    """The workload generator in a thread until ``stop()``, which returns its report (``.failed``,
    ``.summary()``, ...) and re-raises whatever the thread raised."""

    def __init__(
        self,
        dsn: str,
        *,
        publish: str = "auto",
        rate: float = 60,
        connections: int = 3,
        seconds: float = 900,
        **options,
    ) -> None:
        wl = pytest.importorskip(
            "activity_migration.demo.workload", reason="demo workload generator not available"
        )
        self.stop_event = threading.Event()
        self.report = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.report = wl.run_workload(
                    dsn,
                    seconds=seconds,
                    rate=rate,
                    connections=connections,
                    publish=publish,
                    stop_event=self.stop_event,
                    **options,
                )
            except BaseException as exc:  # surfaced by stop()
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=120)
        if self.error:
            raise self.error
        return self.report


@contextlib.contextmanager
def background_workload(dsn: str, rate: int = 40) -> Iterator[dict]:
    """``Background`` around a block: yields a dict that holds ``report`` once the block ends."""
    holder: dict = {}
    bg = Background(dsn, rate=rate, connections=2, seconds=600)
    time.sleep(0.5)
    try:
        yield holder
    finally:
        holder["report"] = bg.stop()
