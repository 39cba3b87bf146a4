"""``activity-migration tiers``: the logging triggers per tier (discovered now), tier status, restore."""

from __future__ import annotations

import argparse

from ..config import load_config
from ..db import connection
from ..ledger import RunContext
from ._common import add_flags, add_json_flag, database_command, database_dsn, print_json, print_result


def _print_plan(plans: dict) -> None:
    total = 0
    for p in plans.values():
        total += len(p.triggers)
        print(f"tier {p.tier}: {p.name}  [{p.status}]  {len(p.triggers)} logging triggers")
        for table in p.tables:
            trigs = [t for t in p.triggers if t.table == table]
            print(
                f"  {table}: "
                + (
                    ", ".join(
                        f"{t.trigger_name} -> {t.function_identity}"
                        + ("" if t.enabled == "O" else f" (tgenabled {t.enabled})")
                        for t in trigs
                    )
                    or "(none live)"
                )
            )
    print(f"total: {total} logging triggers")


def _print_status(section: dict) -> None:
    print(f"tiers verified: {section['tiers_verified']}")
    for key, t in section["tiers"].items():
        imp = (
            ""
            if t["improvement_pct"] is None
            else (
                f"  improvement {t['improvement_pct']}% ({t['method']}: {t['write_ms_before']} -> "
                f"{t['write_ms_after']} ms)"
                f"  events/writes {t['event_ratio']}"
            )
        )
        print(f"{key}: {t['status']:<9} {t['name']}{imp}")


def _run(args: argparse.Namespace) -> int:
    from .. import tiers
    from ..phases import p5_trigger_removal as p5

    cfg = load_config()
    dsn = database_dsn(args)
    if args.restore:
        ctx = RunContext(environment=args.environment or "production", mode="normal", actor="cli")
        out = (
            p5.rollback_all(dsn, cfg, ctx)
            if args.restore == "all"
            else p5.rollback_tier(dsn, cfg, int(args.restore), ctx)
        )
        print_json(out)
        return 0
    with connection(dsn) as conn:
        if args.status:
            section = p5.tiers_section(conn, cfg)
            print_result(args, section, _print_status)
            return 0
        plans = tiers.plan_tiers(conn, cfg)
    if args.json:
        print_json([p.as_dict() for p in plans.values()])
    else:
        _print_plan(plans)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = database_command(
        sub,
        "tiers",
        _run,
        help="phase 5: logging triggers per tier, tier status, restore a tier",
        description="Show the legacy logging triggers discovered in the catalog, per tier of the "
        "config (--plan, the default), or the tiers' status and measured improvement "
        "(--status). --restore N|all recreates dropped tiers from their backups.",
    )
    what = p.add_mutually_exclusive_group()
    add_flags(
        what,
        {"--plan": "logging triggers per tier (default)", "--status": "tier status and measured improvement"},
    )
    what.add_argument(
        "--restore",
        metavar="N|all",
        choices=["all"] + [str(t.tier) for t in load_config().tiers],
        help="recreate the triggers and functions of tier N (or all tiers) from the backup",
    )
    add_json_flag(p)
