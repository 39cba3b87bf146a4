"""Load the hand-kept Great Expectations suites from ``expectations/*.json``.

GX drops an expectation whose ``type`` it does not know with only a log line (docs/platform-notes.md),
so every suite is checked after loading: the number of expectations GX kept must equal the
number in the file, else ``ConfigError`` names the suite and the dropped types. Each file has
a fixed top-level ``"id"`` so GX never rewrites it.

``great_expectations`` is imported lazily (4-6 s): nothing at import time here touches it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..db import PROJECT_ROOT
from ..errors import ConfigError

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

# Suite name -> JSON file; the order is the order a full validation runs them.
SUITES: dict[str, str] = {
    "events_integrity": "events_integrity.json",
    "parity": "parity.json",
    "quarantine": "quarantine.json",
}
ALL_SUITES = tuple(SUITES)


@dataclass(frozen=True)
class SuiteSpec:
    """A suite file as written (before GX sees it)."""

    name: str
    path: Path
    data: dict[str, Any]

    @property
    def expectation_count(self) -> int:
        return len(self.data.get("expectations") or [])

    @property
    def types(self) -> list[str]:
        return [e.get("type", "?") for e in self.data.get("expectations") or []]


def check_suite_names(suites: list[str] | tuple[str, ...] | None) -> list[str]:
    names = list(suites or ALL_SUITES)
    unknown = [s for s in names if s not in SUITES]
    if unknown:
        raise ConfigError(f"unknown validation suite(s) {unknown}; known suites: {list(SUITES)}")
    return names


def read_suite(name: str, directory: Path | None = None) -> SuiteSpec:
    """Read and sanity-check one suite file (name, fixed id, expectations list)."""
    check_suite_names([name])
    path = (directory or EXPECTATIONS_DIR) / SUITES[name]
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"suite file missing: {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"suite file {path} is not valid JSON: {exc}") from None
    if data.get("name") != name:
        raise ConfigError(f"suite file {path} must have name {name!r}, has {data.get('name')!r}")
    if not data.get("id"):
        raise ConfigError(f'suite file {path} needs a fixed top-level "id" (uuid), or GX rewrites it')
    if not isinstance(data.get("expectations"), list) or not data["expectations"]:
        raise ConfigError(f"suite file {path} has no expectations")
    return SuiteSpec(name=name, path=path, data=data)


def load_suite(name: str, directory: Path | None = None) -> Any:
    """Return a ``gx.ExpectationSuite`` for ``name``, refusing one that lost expectations."""
    import great_expectations as gx

    spec = read_suite(name, directory)
    suite = gx.ExpectationSuite(**json.loads(json.dumps(spec.data)))
    kept = len(suite.expectations)
    if kept != spec.expectation_count:
        kept_types = {e.expectation_type for e in suite.expectations}
        dropped = sorted({t for t in spec.types if t not in kept_types})
        raise ConfigError(
            f"suite {name} ({spec.path.name}) declares {spec.expectation_count} expectations but GX kept "
            f"{kept}; "
            f"unknown or invalid expectation types: {dropped}"
        )
    return suite
