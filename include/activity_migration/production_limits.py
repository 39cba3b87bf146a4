"""The one table of production limits on gate-weakening Params (issue 16; staging is unchanged).

``PRODUCTION_LIMITS``: a Param that may not go below (or above) a limit in production;
``PRODUCTION_REFUSED``: a Param value that fails a production run. ``run_rules`` applies them;
the trigger forms show ``limit_description``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamLimit:
    """In production, ``param`` may not go below (``bound='min'``) or above (``'max'``) ``limit``."""

    param: str
    bound: str  # "min" | "max"
    limit: float
    unit: str
    why: str
    positive: bool = False  # also refused unless > 0 (a non-positive value means nothing sensible)

    def weaker(self, value: float) -> bool:
        return value < self.limit if self.bound == "min" else value > self.limit

    def describe(self) -> str:
        """The sentence the trigger form shows: ``Production: at least 0.9 ...``."""
        shown = f"{number_text(self.limit)}{(' ' + self.unit) if self.unit else ''}"
        if self.bound == "min":
            rule, moved = f"at least {shown}", f"a lower value is raised to {number_text(self.limit)}"
        else:
            rule, moved = f"at most {shown}", f"a higher value is lowered to {number_text(self.limit)}"
        refused = "; 0 or less is refused" if self.positive else ""
        return f"Production: {rule} ({self.why}); {moved}, logged and recorded in the ledger{refused}."


@dataclass(frozen=True)
class RefusedParam:
    """In production, ``param`` may not take ``value`` at all: the run fails."""

    param: str
    value: Any
    why: str

    def describe(self) -> str:
        return f"Refused in production ({self.why})."


# The one table of production limits (issue 16). Staging is unchanged.
PRODUCTION_LIMITS: dict[str, ParamLimit] = {
    lim.param: lim
    for lim in (
        ParamLimit(
            "min_event_ratio",
            "min",
            0.9,
            "",
            "the event-flow sensor must not pass a tier whose activity partly went missing",
        ),
        ParamLimit(
            "rehearsal_max_age_days", "max", 14, "days", "the staging rehearsal must be recent", positive=True
        ),
        ParamLimit(
            "retention_days",
            "min",
            7,
            "days",
            "the archive may not be deleted without force right after cleanup",
        ),
        ParamLimit("validation_max_age_hours", "max", 48, "hours", "cleanup needs a recent full validation"),
    )
}

PRODUCTION_REFUSED: dict[str, RefusedParam] = {
    r.param: r
    for r in (
        RefusedParam(
            "allow_without_cutoff",
            True,
            "without the cutoff phase 2 records, rows written during the backfill are not covered",
        ),
    )
}


def number_text(value: float) -> str:
    """A limit or value as messages show it (``0.9``, ``14``)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def limit_description(param: str) -> str:
    """The production rule of ``param`` as one sentence for its trigger-form description ('' if none)."""
    if param in PRODUCTION_LIMITS:
        return PRODUCTION_LIMITS[param].describe()
    if param in PRODUCTION_REFUSED:
        return PRODUCTION_REFUSED[param].describe()
    return ""
