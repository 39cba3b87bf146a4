"""Helpers for the end-to-end tests: free ports, waiting for HTTP, headless Debian Chromium, DOM reading."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# docs/platform-notes.md: without the background-networking flags Chromium floods the closed network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, ok=(200, 401), proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process serving {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                if resp.status in ok:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s (last error: {last})")


class Chromium:
    """Debian's chromium, headless, a fresh profile per call."""

    def __init__(self, binary: str, profile_root: Path) -> None:
        self.binary = binary
        self.profile_root = profile_root
        self._n = 0

    def _run(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        self._n += 1
        profile = self.profile_root / f"profile{self._n}"
        cmd = [self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise AssertionError(f"chromium failed ({res.returncode}): {res.stderr[-2000:]}")
        return res

    def dump_dom(self, url: str) -> str:
        return self._run(["--virtual-time-budget=3000", "--dump-dom", url]).stdout

    def screenshot(self, url: str, path: Path, size: str = "1280,1700") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run([f"--screenshot={path}", f"--window-size={size}", "--virtual-time-budget=3000", url])
        assert path.exists() and path.stat().st_size > 10_000, f"screenshot {path} missing or empty"
        return path


class DomIndex(HTMLParser):
    """Text of every element with an id, and the rows of a few classes, from a dumped DOM."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.attrs_by_id: dict[str, dict[str, str]] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self._stack: list[tuple[str, str | None, str | None]] = []  # (tag, id, row-class)
        self._text: dict[str, list[str]] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._row_class: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag in ("meta", "link", "br", "img", "input"):
            return
        el_id = a.get("id")
        if el_id:
            self._text[el_id] = []
            self.attrs_by_id[el_id] = a
        if tag == "tr":
            self._row_class = (a.get("class") or "") or None
            self._row = []
            if a.get("data-phase"):
                self._row_class = "phase-row"
        if tag in ("td", "th") and self._row is not None:
            self._cell = []
        self._stack.append((tag, el_id, None))

    def handle_endtag(self, tag):
        while self._stack:
            t, el_id, _ = self._stack.pop()
            if el_id:
                self.by_id[el_id] = " ".join("".join(self._text.pop(el_id, [])).split())
            if t in ("td", "th") and self._cell is not None and self._row is not None:
                self._row.append(" ".join("".join(self._cell).split()))
                self._cell = None
            if t == "tr" and self._row is not None:
                if self._row_class:
                    self.rows.setdefault(self._row_class, []).append(self._row)
                self._row = None
            if t == tag:
                break

    def handle_data(self, data):
        for key in self._text:
            self._text[key].append(data)
        if self._cell is not None:
            self._cell.append(data)
