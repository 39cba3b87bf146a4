"""What a validation run returns: per expectation, per suite and for the whole run.

Plain data, in the shape the alert mail, the gates and the Airflow tasks use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ExpectationOutcome:
    """One expectation's verdict, in the shape the alert mail and the gates use."""

    suite: str
    type: str
    check: str
    description: str
    success: bool
    observed: Any = None
    failures: int | None = None
    examples: list[str] = field(default_factory=list)
    detail: str | None = None
    column: str | None = None

    @property
    def label(self) -> str:
        return self.description or f"{self.type}({self.column or ''})"


@dataclass
class SuiteOutcome:
    name: str
    success: bool
    statistics: dict[str, Any]
    results: list[ExpectationOutcome]
    data_docs_page: str | None = None
    result_id: int | None = None

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]


@dataclass
class ValidationOutcome:
    """What ``run_suites`` returns: the verdict, per-suite details, where Data Docs are."""

    success: bool
    scope: str
    environment: str
    suites: dict[str, SuiteOutcome]
    statistics: dict[str, Any]
    data_docs_path: str | None
    checked_upto: dt.datetime | None = None

    @property
    def failed_expectations(self) -> list[ExpectationOutcome]:
        return [r for s in self.suites.values() for r in s.failed]

    @property
    def failed_suites(self) -> list[str]:
        return [n for n, s in self.suites.items() if not s.success]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["checked_upto"] = self.checked_upto.isoformat() if self.checked_upto else None
        out["failed_expectations"] = len(self.failed_expectations)
        return out

    def summary_lines(self) -> list[str]:
        lines = [
            f"validation {'PASSED' if self.success else 'FAILED'} ({self.scope} scope, {self.environment})"
        ]
        for name, s in self.suites.items():
            st = s.statistics
            lines.append(
                f"  {name}: {'passed' if s.success else 'FAILED'} - "
                f"{st.get('successful_expectations', '?')}/{st.get('evaluated_expectations', '?')} "
                "expectations" + (f", page {s.data_docs_page}" if s.data_docs_page else "")
            )
            for r in s.failed:
                lines.append(
                    f"    x {r.label}: observed {r.observed!r}"
                    + (f", examples {', '.join(r.examples)}" if r.examples else "")
                )
        if self.data_docs_path:
            lines.append(f"  Data Docs: {self.data_docs_path}")
        return lines
