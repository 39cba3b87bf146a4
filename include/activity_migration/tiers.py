"""Trigger tiers of phase 5: plan (which logging triggers each tier removes), back up, drop, restore.

The plan is discovered, never listed: ``catalog.logging_triggers`` finds every trigger whose
function writes the source table or publishes events (transitively), and the config's tiers
claim tables. A logging trigger on a table no tier claims, a claimed table that does not
exist, or a claimed table without logging triggers (unless its tier is already dropped)
stops the plan with a message naming it.

Backups keep two forms of every definition: ``definition`` as the catalog prints it under
the session's search_path (what operators and tests compare), and ``details.qualified`` as
it prints under ``search_path = pg_catalog`` (fully qualified, safe to replay whatever the
restoring session's path is). Functions also keep owner, privileges and comment; triggers
keep ``tgenabled``, comment and the function they execute.

Dropping a tier is one transaction under ``lock_timeout`` with retries
(``db.run_ddl_with_retry``); a trigger function is dropped only when no remaining trigger
uses it and nothing else depends on it. Restoring replays the backups in one transaction
and puts ``tgenabled``, owner, privileges and comments back.

The work is split by job (``tier_plan``, ``tier_backup``, ``tier_drop``, ``tier_restore``);
this module is where the phase, the CLI and the tests take it from.
"""

from __future__ import annotations

from .tier_backup import backup_tier, backups, live_facts  # noqa: F401
from .tier_drop import drop_tier  # noqa: F401
from .tier_plan import (  # noqa: F401
    DONE_STATUSES,
    PHASE,
    TierPlan,
    plan_tier,
    plan_tiers,
    set_tier_state,
    tier_states,
)
from .tier_restore import restore_all, restore_tier  # noqa: F401
