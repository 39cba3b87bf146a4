"""Play the demo application's writes: inserts, updates and deletes on the 18 tables.

Each transaction is what the application's API does for one request: as the role
``authenticated`` with the caller's JWT claims and request headers set (so the legacy
triggers log the right actor, IP and user agent), one single-row INSERT, UPDATE or DELETE
on one table. ``connections`` threads, one psycopg connection each, share a target rate.

It keeps running while the migration changes the database: a transaction that waits on a
lock ends at its ``statement_timeout`` and is counted as failed, the next one goes on.

Publishing like the upgraded application (``publish="auto"``): once phase 5 dropped a
table's logging triggers, nothing logs that table's writes any more, so the application
publishes the event itself, in the same transaction, after the DML, when phase 5 told it to
(``public.activity_publisher(table) = 'application'``: the tier's handover, before its triggers
are dropped; the writer turns the trigger's event and ours into one) or when the table has no
logging trigger left (a per-transaction catalog check, race-free: our DML holds a ROW EXCLUSIVE
lock that DROP TRIGGER must wait for).
``publish="never"`` is the application that forgot: the event-flow sensor must notice.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ..db import connect
from ..errors import MigrationError
from .app import APP_TABLES

log = logging.getLogger(__name__)

APPLICATION_NAME = "demo-app-workload"  # counts as application load, not as our own sessions
PUBLISH_MODES = ("auto", "never")
STATEMENT_TIMEOUT = "5s"
MAX_ERRORS_KEPT = 5
FUNCTION_CACHE_SECONDS = 3.0

# Does the table still have a trigger that logs (writes activity_logs or, after phase 2,
# calls publish_activity)? Mirrors catalog.logging_triggers for one table, cheaply.
_HAS_LOGGING_TRIGGER = r"""
SELECT EXISTS (
    SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
    WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal
      AND (p.prosrc ~* '\mactivity_logs\M' OR p.prosrc ~* 'publish_activity'))
"""
_PUBLISH_EXISTS = """
SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'publish_activity'
               AND pronamespace = 'public'::regnamespace)
"""
# Phase 5 tells the application which tables it must publish for (its handover of a tier).
_TOLD_TO_PUBLISH = "SELECT public.activity_publisher(%s) = 'application'"
_PUBLISH = """
SELECT public.publish_activity(
    p_event_type => %(event_type)s, p_entity_type => %(entity_type)s, p_entity_id => %(entity_id)s,
    p_payload => %(payload)s, p_actor_id => %(actor_id)s, p_customer_id => %(customer_id)s,
    p_description => %(description)s, p_source => 'service',
    p_ip_address => %(ip_address)s, p_user_agent => %(user_agent)s)
"""

_IPS = ("203.0.113.7", "198.51.100.23", "192.0.2.44", "2001:db8::17", "203.0.113.250", "198.51.100.199")
_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
    "supabase-js/2.43.4",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0",
    "okhttp/4.12.0",
)


# --- what the application writes, per table ---------------------------------------------


def _pick(*choices: Any) -> Callable[[random.Random], Any]:
    return lambda r: r.choice(choices)


def _money(lo: float, hi: float) -> Callable[[random.Random], float]:
    return lambda r: round(r.uniform(lo, hi), 2)


def _text(prefix: str) -> Callable[[random.Random], str]:
    return lambda r: f"{prefix} {r.randrange(1_000_000)}"


def _now(_: random.Random) -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass(frozen=True)
class TableSpec:
    """How the application writes one table: columns of a new row, editable fields, parents."""

    table: str
    noun: str
    columns: dict[str, Callable[[random.Random], Any]]
    editable: dict[str, Callable[[random.Random], Any]]
    statuses: tuple[str, ...] = ()
    parents: dict[str, str] = field(default_factory=dict)  # column -> parent table

    @property
    def entity_type(self) -> str:
        return APP_TABLES[self.table]


SPECS: dict[str, TableSpec] = {
    s.table: s
    for s in (
        TableSpec(
            "users",
            "User",
            {
                "email": lambda r: f"invitee{r.randrange(10**9)}@example.com",
                "full_name": _pick("Zoë Ng", "José Rossi", "Aarav Patel", "Mei Chen"),
                "role": _pick("member", "viewer"),
                "status": _pick("invited"),
            },
            {
                "full_name": _pick("Zoë Ng-Berg", "José Rossi Jr", "Aarav P.", "Mei Chen 陈"),
                "last_sign_in_at": _now,
            },
            statuses=("invited", "active", "suspended", "deactivated"),
        ),
        TableSpec(
            "projects",
            "Project",
            {
                "name": _text("Project"),
                "description": _text("Workload project"),
                "status": _pick("draft"),
                "target_amount": _money(50_000, 5_000_000),
                "currency": _pick("USD", "EUR"),
            },
            {"description": _text("Updated description"), "target_amount": _money(50_000, 5_000_000)},
            statuses=("draft", "active", "funded", "closed"),
        ),
        TableSpec(
            "investors",
            "Investor",
            {
                "name": _pick("Amélie Laurent", "Kwame Mensah", "Priya Sharma"),
                "email": lambda r: f"inv{r.randrange(10**9)}@example.org",
                "investor_type": _pick("individual", "institution"),
                "country": _pick("US", "DE", "JP"),
                "accredited": _pick(True, False),
            },
            {"country": _pick("US", "GB", "FR", "IN"), "accredited": _pick(True, False)},
        ),
        TableSpec(
            "kyc_verifications",
            "KYC verification",
            {"provider": _pick("onfido", "jumio"), "status": _pick("pending")},
            {"provider": _pick("onfido", "jumio", "persona"), "reviewed_at": _now},
            statuses=("pending", "approved", "rejected", "expired"),
            parents={"investor_id": "investors"},
        ),
        TableSpec(
            "tokens",
            "Token",
            {
                "symbol": lambda r: f"WL{r.randrange(100000)}",
                "name": _text("Workload token"),
                "total_supply": lambda r: r.randrange(10**6, 10**9),
                "status": _pick("draft"),
            },
            {
                "name": _text("Renamed token"),
                "contract_address": lambda r: "0x" + uuid.UUID(int=r.getrandbits(128)).hex + "00000000",
            },
            statuses=("draft", "deployed", "paused", "retired"),
            parents={"project_id": "projects"},
        ),
        TableSpec(
            "allocations",
            "Allocation",
            {"amount": lambda r: r.randrange(100, 100_000), "status": _pick("pending")},
            {
                "amount": lambda r: r.randrange(100, 100_000),
                "status": _pick("pending", "confirmed", "distributed"),
            },
            parents={"token_id": "tokens", "investor_id": "investors"},
        ),
        TableSpec(
            "wallets",
            "Wallet",
            {
                "address": lambda r: "0x" + uuid.UUID(int=r.getrandbits(128)).hex + "00000000",
                "network": _pick("ethereum", "polygon"),
                "is_primary": _pick(False),
            },
            {"is_primary": _pick(True, False), "network": _pick("ethereum", "polygon", "solana")},
            parents={"investor_id": "investors"},
        ),
        TableSpec(
            "investments",
            "Investment",
            {"amount": _money(1000, 250_000), "currency": _pick("USD", "EUR"), "status": _pick("pending")},
            {"amount": _money(1000, 250_000)},
            statuses=("pending", "committed", "funded", "cancelled"),
            parents={"project_id": "projects", "investor_id": "investors"},
        ),
        TableSpec(
            "payment_plans",
            "Payment plan",
            {
                "name": _text("Plan"),
                "total_amount": _money(1000, 100_000),
                "installments": _pick(1, 3, 6, 12),
                "frequency": _pick("monthly", "quarterly"),
                "status": _pick("draft"),
            },
            {"installments": _pick(1, 3, 6, 12, 24), "frequency": _pick("monthly", "quarterly", "once")},
            statuses=("draft", "active", "completed", "defaulted"),
            parents={"investment_id": "investments"},
        ),
        TableSpec(
            "payments",
            "Payment",
            {
                "amount": _money(50, 20_000),
                "currency": _pick("USD", "EUR"),
                "method": _pick("card", "wire", "ach"),
                "status": _pick("pending"),
                "external_ref": lambda r: f"pi_{r.getrandbits(64):016x}",
            },
            {"external_ref": lambda r: f"pi_{r.getrandbits(64):016x}", "paid_at": _now},
            statuses=("pending", "succeeded", "failed", "refunded"),
            parents={"payment_plan_id": "payment_plans"},
        ),
        TableSpec(
            "subscriptions",
            "Subscription",
            {"amount": _money(5000, 500_000), "status": _pick("pending")},
            {"amount": _money(5000, 500_000), "signed_at": _now},
            statuses=("pending", "signed", "approved", "rejected"),
            parents={"investor_id": "investors", "project_id": "projects"},
        ),
        TableSpec(
            "distributions",
            "Distribution",
            {
                "amount": _money(1000, 200_000),
                "distribution_date": lambda r: datetime.now(timezone.utc).date().isoformat(),
                "status": _pick("scheduled"),
            },
            {"amount": _money(1000, 200_000)},
            statuses=("scheduled", "processing", "paid", "cancelled"),
            parents={"project_id": "projects"},
        ),
        TableSpec(
            "templates",
            "Template",
            {
                "name": _text("Template"),
                "kind": _pick("email", "document"),
                "body": _pick("Hello {{name}} 👋", "Dear investor,"),
            },
            {"body": _pick("Updated body ✨", "Dear {{name}}, see attached."), "version": _pick(2, 3, 4)},
        ),
        TableSpec(
            "configurations",
            "Setting",
            {
                "key": lambda r: f"workload.setting.{r.randrange(10**9)}",
                "value": lambda r: Jsonb({"enabled": r.random() < 0.5}),
                "description": _text("Setting"),
            },
            {"value": lambda r: Jsonb({"enabled": r.random() < 0.5, "limit": r.randrange(1000)})},
        ),
        TableSpec(
            "documents",
            "Document",
            {
                "title": _text("Document"),
                "file_path": lambda r: f"documents/workload/{r.randrange(10**9)}.pdf",
                "mime_type": _pick("application/pdf"),
                "size_bytes": lambda r: r.randrange(10_000, 20_000_000),
                "status": _pick("uploaded"),
            },
            {"title": _text("Renamed document")},
            statuses=("uploaded", "reviewed", "signed", "archived"),
            parents={"project_id": "projects"},
        ),
        TableSpec(
            "notifications",
            "Notification",
            {
                "kind": _pick("info", "reminder"),
                "title": _pick("Payment received", "New document", "Welcome 👋"),
                "body": _text("Notification"),
            },
            {"title": _pick("Reminder: action required", "Updated notice")},
        ),
        TableSpec(
            "bulk_operations",
            "Bulk operation",
            {
                "operation": _pick("import_investors", "export_payments"),
                "total_items": lambda r: r.randrange(10, 5000),
                "status": _pick("queued"),
            },
            {"processed_items": lambda r: r.randrange(0, 5000)},
            statuses=("queued", "running", "completed", "failed"),
        ),
        TableSpec(
            "emails",
            "Email",
            {
                "to_address": lambda r: f"recipient{r.randrange(10**9)}@example.org",
                "subject": _pick("Your payment was received", "Welcome aboard 🚀"),
                "body": _text("Message"),
                "status": _pick("queued"),
            },
            {"subject": _pick("Re: your payment", "Reminder")},
            statuses=("queued", "sent", "bounced", "failed"),
            parents={"template_id": "templates"},
        ),
    )
}
assert set(SPECS) == set(APP_TABLES), "every application table needs a workload spec"


# --- the report -----------------------------------------------------------------------


@dataclass
class WorkloadReport:
    """What a workload run did. ``per_table`` counts committed DML per table (each one logged
    exactly once by a trigger, or published, or lost: see ``unpublished``)."""

    seconds: float
    target_rate: float
    achieved_rate: float
    connections: int
    publish: str
    transactions_ok: int
    transactions_failed: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    errors: list[str]
    per_table: dict[str, dict[str, int]]
    published: dict[str, int]
    unpublished: dict[str, int]
    noops: int = 0

    @property
    def ok(self) -> int:
        return self.transactions_ok

    committed = ok

    @property
    def failed(self) -> int:
        return self.transactions_failed

    @property
    def total_dml(self) -> int:
        return sum(sum(c.values()) for c in self.per_table.values())

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), total_dml=self.total_dml)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def summary(self) -> str:
        def ms(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.1f}"

        lines = [
            f"workload: {self.seconds:.1f} s, target {self.target_rate:g} tx/s, achieved "
            f"{self.achieved_rate:.1f} tx/s "
            f"over {self.connections} connection(s), publish={self.publish}",
            f"transactions: {self.transactions_ok} ok, {self.transactions_failed} failed; "
            f"latency p50 {ms(self.latency_p50_ms)} ms, p95 {ms(self.latency_p95_ms)} ms, p99 "
            f"{ms(self.latency_p99_ms)} ms",
            f"DML: {self.total_dml} ({sum(c['inserts'] for c in self.per_table.values())} inserts, "
            f"{sum(c['updates'] for c in self.per_table.values())} updates, "
            f"{sum(c['deletes'] for c in self.per_table.values())} deletes); "
            f"published by the app: {sum(self.published.values())}; unlogged (no trigger, no "
            "publish_activity): "
            f"{sum(self.unpublished.values())}",
        ]
        lines += [f"error: {e}" for e in self.errors]
        return "\n".join(lines)


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


# --- the world the workload acts in -----------------------------------------------------


@dataclass
class _Row:
    table: str
    id: uuid.UUID
    user_id: uuid.UUID
    customer_id: uuid.UUID | None
    status: str | None = None
    role: str | None = None
    read: bool = False


@dataclass
class _World:
    actors: list[tuple[uuid.UUID, uuid.UUID | None]]  # (auth user id, customer id)
    parents: dict[tuple[str, uuid.UUID | None], list[uuid.UUID]]  # (table, customer) -> ids
    seeded: list[list[_Row]]  # one disjoint share per worker


def _load_world(conn: psycopg.Connection, workers: int, sample_per_table: int = 400) -> _World:
    missing = [
        t
        for t in APP_TABLES
        if conn.execute("SELECT to_regclass(%s)", (f"public.{t}",)).fetchone()[0] is None
    ]
    if missing:
        raise MigrationError(
            f"the demo application is not seeded in this database (missing tables: "
            f"{', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); run `activity-migration seed` "
            "first"
        )
    actors = [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT user_id, customer_id FROM public.users WHERE user_id IS NOT NULL AND id = user_id ORDER "
            "BY user_id"
        )
    ]
    if not actors:
        raise MigrationError(
            "the demo application is not seeded in this database (public.users has no seeded users); "
            "run `activity-migration seed` first"
        )
    parents: dict[tuple[str, uuid.UUID | None], list[uuid.UUID]] = {}
    for table in sorted({p for s in SPECS.values() for p in s.parents.values()}):
        for rid, cust in conn.execute(
            sql.SQL("SELECT id, customer_id FROM {} LIMIT 5000").format(sql.Identifier("public", table))
        ):
            parents.setdefault((table, cust), []).append(rid)
    seeded: list[list[_Row]] = [[] for _ in range(workers)]
    i = 0
    for table, spec in SPECS.items():
        extra = {"users": ", status, role", "notifications": ", read_at IS NOT NULL"}.get(
            table, ", status" if spec.statuses else ""
        )
        query = sql.SQL(
            "SELECT id, user_id, customer_id" + extra + " FROM {} WHERE user_id IS NOT NULL "
            "ORDER BY random() LIMIT %s"
        ).format(sql.Identifier("public", table))
        for rec in conn.execute(query, (sample_per_table,)):
            row = _Row(table, rec[0], rec[1], rec[2])
            if table == "users":
                row.status, row.role = rec[3], rec[4]
            elif table == "notifications":
                row.read = bool(rec[3])
            elif spec.statuses:
                row.status = rec[3]
            seeded[i % workers].append(row)
            i += 1
    conn.rollback()
    return _World(actors, parents, seeded)


# --- one worker -------------------------------------------------------------------------


@dataclass
class _Stats:
    ok: int = 0
    failed: int = 0
    noops: int = 0
    latencies: list[float] = field(default_factory=list)
    per_table: dict[str, dict[str, int]] = field(
        default_factory=lambda: {t: {"inserts": 0, "updates": 0, "deletes": 0} for t in APP_TABLES}
    )
    published: dict[str, int] = field(default_factory=lambda: {t: 0 for t in APP_TABLES})
    unpublished: dict[str, int] = field(default_factory=lambda: {t: 0 for t in APP_TABLES})


@dataclass
class _Change:
    """One planned DML and the event the application would publish for it."""

    table: str
    kind: str  # inserts | updates | deletes
    actor: uuid.UUID
    customer_id: uuid.UUID | None
    statement: sql.Composable
    params: tuple
    action: str
    payload: dict[str, Any]
    description: str
    row: _Row | None = None  # the row updated/deleted (None for inserts)
    after: Callable[[], None] | None = None  # local bookkeeping once committed


class _Worker(threading.Thread):
    def __init__(
        self,
        index: int,
        dsn: str,
        world: _World,
        interval: float,
        deadline: float,
        stop: threading.Event,
        publish: str,
        errors: list[str],
        errors_lock: threading.Lock,
        tables: list[str],
        unpublished: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(name=f"workload-{index}", daemon=True)
        self.dsn, self.world, self.interval, self.deadline = dsn, world, interval, deadline
        self.tables, self.unpublished = tables, unpublished
        self.stop, self.publish = stop, publish
        self.errors, self.errors_lock = errors, errors_lock
        self.rng = random.Random()
        self.stats = _Stats()
        self.seeded: dict[str, list[_Row]] = {t: [] for t in APP_TABLES}
        for row in world.seeded[index]:
            self.seeded[row.table].append(row)
        self.created: dict[str, list[_Row]] = {t: [] for t in APP_TABLES}
        self.conn: psycopg.Connection | None = None
        self._fn_checked_at = 0.0
        self._fn_exists = False

    # planning ----------------------------------------------------------------------
    def _plan(self) -> _Change:
        r = self.rng
        table = r.choice(self.tables)
        spec = SPECS[table]
        roll = r.random()
        if roll < 0.15 and self.created[table]:
            return self._plan_delete(spec)
        if roll < 0.55:
            pool = (
                self.created[table]
                if (self.created[table] and r.random() < 0.5)
                else self.seeded[table] or self.created[table]
            )
            if pool:
                return self._plan_update(spec, r.choice(pool))
        return self._plan_insert(spec)

    def _plan_insert(self, spec: TableSpec) -> _Change:
        r = self.rng
        actor, customer = r.choice(self.world.actors)
        values = {name: gen(r) for name, gen in spec.columns.items()}
        for column, parent in spec.parents.items():
            ids = self.world.parents.get((parent, customer))
            values[column] = r.choice(ids) if ids else None
        values["customer_id"], values["user_id"] = customer, actor
        cols = list(values)
        stmt = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
            sql.Identifier("public", spec.table),
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.Placeholder() * len(cols)),
        )
        payload = {k: _jsonable(v) for k, v in values.items() if k not in ("customer_id", "user_id")}
        if spec.table == "bulk_operations":
            payload.update(row_count=1, statement_level=True)
        return _Change(
            spec.table,
            "inserts",
            actor,
            customer,
            stmt,
            tuple(values[c] for c in cols),
            "created",
            payload,
            f"{spec.noun} was created",
        )

    def _plan_update(self, spec: TableSpec, row: _Row) -> _Change:
        r = self.rng
        sets: dict[str, Any] = {}
        action = "updated"
        after: Callable[[], None] | None = None
        if spec.table == "users" and r.random() < 0.25:
            new_role = r.choice([x for x in ("admin", "member", "viewer") if x != row.role])
            sets["role"], action = new_role, "role_changed"
            payload = {"from": row.role, "to": new_role}
            after = lambda: setattr(row, "role", new_role)  # noqa: E731
        elif spec.table == "notifications" and not row.read and r.random() < 0.6:
            sets["read_at"], action = datetime.now(timezone.utc), "read"
            payload = {"read_at": sets["read_at"].isoformat()}
            after = lambda: setattr(row, "read", True)  # noqa: E731
        elif spec.statuses and r.random() < 0.5:
            new_status = r.choice([s for s in spec.statuses if s != row.status])
            sets["status"] = new_status
            action = "sent" if (spec.table == "emails" and new_status == "sent") else "status_changed"
            if action == "sent":
                sets["sent_at"] = datetime.now(timezone.utc)
            payload = {"from": row.status, "to": new_status}
            after = lambda: setattr(row, "status", new_status)  # noqa: E731
        else:
            column = r.choice(list(spec.editable))
            sets[column] = spec.editable[column](r)
            payload = {"changed_fields": [column]}
        cols = list(sets)
        stmt = sql.SQL("UPDATE {} SET {} WHERE id = %s RETURNING id").format(
            sql.Identifier("public", spec.table),
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in cols),
        )
        return _Change(
            spec.table,
            "updates",
            row.user_id,
            row.customer_id,
            stmt,
            (*[sets[c] for c in cols], row.id),
            action,
            payload,
            f"{spec.noun} was {action.replace('_', ' ')}",
            row=row,
            after=after,
        )

    def _plan_delete(self, spec: TableSpec) -> _Change:
        row = self.created[spec.table][-1]
        stmt = sql.SQL("DELETE FROM {} WHERE id = %s RETURNING id").format(
            sql.Identifier("public", spec.table)
        )
        payload = {"row_count": 1, "statement_level": True} if spec.table == "bulk_operations" else {}
        return _Change(
            spec.table,
            "deletes",
            row.user_id,
            row.customer_id,
            stmt,
            (row.id,),
            "deleted",
            payload,
            f"{spec.noun} was deleted",
            row=row,
            after=lambda: self.created[spec.table].remove(row),
        )

    # executing -------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed or self.conn.broken:
            if self.conn is not None:
                self.conn.close()
            self.conn = connect(self.dsn, application_name=APPLICATION_NAME)
        return self.conn

    def _publish_function_exists(self, cur: psycopg.Cursor) -> bool:
        now = time.monotonic()
        if now - self._fn_checked_at > FUNCTION_CACHE_SECONDS:
            self._fn_exists = bool(cur.execute(_PUBLISH_EXISTS).fetchone()[0])
            self._fn_checked_at = now
        return self._fn_exists

    @staticmethod
    def _told_to_publish(conn: psycopg.Connection, cur: psycopg.Cursor, table: str) -> bool:
        """Did phase 5 tell the application to publish for ``table``? A savepoint keeps a
        function dropped a moment ago (the rollback of phase 1) from failing the write."""
        try:
            with conn.transaction():
                return bool(cur.execute(_TOLD_TO_PUBLISH, (table,)).fetchone()[0])
        except psycopg.errors.UndefinedFunction:
            return False

    def _execute(self, change: _Change) -> None:
        conn = self._connection()
        r = self.rng
        ip, agent = r.choice(_IPS), r.choice(_AGENTS)
        claims = json.dumps({"sub": str(change.actor), "role": "authenticated"})
        headers = json.dumps({"x-forwarded-for": ip, "user-agent": agent})
        outcome = "noop"
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL ROLE authenticated")
            cur.execute(
                "SELECT set_config('statement_timeout', %s, true), set_config('request.jwt.claims', %s, "
                "true), "
                "set_config('request.headers', %s, true)",
                (STATEMENT_TIMEOUT, claims, headers),
            )
            cur.execute(change.statement, change.params)
            returned = cur.fetchone()
            if returned is not None:
                outcome = "done"
                entity_id = str(returned[0])
                if self.publish == "auto" and change.table not in self.unpublished:
                    table = f"public.{change.table}"
                    exists = self._publish_function_exists(cur)
                    told = exists and self._told_to_publish(conn, cur, table)
                    if told or not cur.execute(_HAS_LOGGING_TRIGGER, (table,)).fetchone()[0]:
                        if exists:
                            cur.execute(
                                _PUBLISH,
                                {
                                    "event_type": f"{SPECS[change.table].entity_type}.{change.action}",
                                    "entity_type": SPECS[change.table].entity_type,
                                    "entity_id": entity_id,
                                    "payload": Jsonb(change.payload),
                                    "actor_id": change.actor,
                                    "customer_id": change.customer_id,
                                    "description": change.description,
                                    "ip_address": ip,
                                    "user_agent": agent,
                                },
                            )
                            outcome = "published"
                        else:
                            outcome = "unlogged"
        # committed
        if outcome == "noop":
            self.stats.noops += 1
            if change.row is not None and change.row in self.created[change.table]:
                self.created[change.table].remove(change.row)
            return
        self.stats.per_table[change.table][change.kind] += 1
        if outcome == "published":
            self.stats.published[change.table] += 1
        elif outcome == "unlogged":
            self.stats.unpublished[change.table] += 1
        if change.kind == "inserts":
            status = (
                change.params[list(SPECS[change.table].columns).index("status")]
                if "status" in SPECS[change.table].columns
                else None
            )
            role = (
                change.params[list(SPECS[change.table].columns).index("role")]
                if change.table == "users"
                else None
            )
            self.created[change.table].append(
                _Row(change.table, returned[0], change.actor, change.customer_id, status=status, role=role)
            )
        if change.after:
            change.after()

    def _record_error(self, exc: BaseException) -> None:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        with self.errors_lock:
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(f"{type(exc).__name__}: {text}")

    def run(self) -> None:
        next_at = time.monotonic() + self.rng.random() * self.interval  # spread the workers' phases
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= self.deadline:
                    break
                if next_at > now:
                    self.stop.wait(min(next_at - now, self.deadline - now))
                    continue
                # Behind schedule by more than a second: drop the backlog rather than burst.
                next_at = max(next_at + self.interval, time.monotonic() - 1.0)
                started = time.perf_counter()
                try:
                    self._execute(self._plan())
                    self.stats.ok += 1
                except (psycopg.Error, MigrationError) as exc:
                    self.stats.failed += 1
                    self._record_error(exc)
                    if isinstance(exc, MigrationError) or (self.conn is not None and self.conn.broken):
                        self.stop.wait(0.5)  # the server is away: do not spin
                finally:
                    self.stats.latencies.append(time.perf_counter() - started)
        finally:
            if self.conn is not None:
                self.conn.close()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Jsonb):
        return value.obj
    if isinstance(value, (uuid.UUID, datetime)):
        return str(value)
    return value


def run_workload(
    dsn: str,
    seconds: float,
    rate: float,
    *,
    connections: int = 4,
    publish: str = "auto",
    stop_event: threading.Event | None = None,
    tables: Sequence[str] | None = None,
    unpublished: Sequence[str] = (),
) -> WorkloadReport:
    """Play the application's writes for ``seconds`` at ``rate`` transactions/s in total.

    :param dsn: the application database (seeded by ``activity-migration seed``).
    :param seconds: how long to run.
    :param rate: target transactions per second, shared by the connections.
    :param connections: worker threads, one connection each.
    :param publish: ``auto`` publishes events for tables whose logging triggers are gone;
        ``never`` does not (an application that forgot).
    :param stop_event: set it to end the run early.
    :param tables: the tables to write, each transaction picking one at random (a name given
        twice is picked twice as often); default all 18.
    :param unpublished: tables the application forgets to publish for even with ``auto`` (the
        event-flow sensor must name them)
    """
    if not seconds or seconds <= 0:
        raise MigrationError(f"seconds must be positive, got {seconds!r}")
    if not rate or rate <= 0:
        raise MigrationError(f"rate must be positive (transactions per second), got {rate!r}")
    if not isinstance(connections, int) or connections < 1:
        raise MigrationError(f"connections must be a positive integer, got {connections!r}")
    if publish not in PUBLISH_MODES:
        raise MigrationError(f"publish must be one of {list(PUBLISH_MODES)}, got {publish!r}")
    chosen = list(tables) if tables is not None else list(APP_TABLES)
    unknown = sorted(set(chosen) - set(APP_TABLES))
    if not chosen or unknown:
        raise MigrationError(f"tables must name demo application tables, got {unknown or 'none'}")

    with connect(dsn, application_name=APPLICATION_NAME) as conn:
        world = _load_world(conn, connections)

    stop = stop_event or threading.Event()
    errors: list[str] = []
    errors_lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    workers = [
        _Worker(
            i,
            dsn,
            world,
            connections / rate,
            deadline,
            stop,
            publish,
            errors,
            errors_lock,
            chosen,
            frozenset(unpublished),
        )
        for i in range(connections)
    ]
    for w in workers:
        w.start()
    try:
        for w in workers:
            while w.is_alive():
                w.join(timeout=0.5)
    except KeyboardInterrupt:
        stop.set()
        for w in workers:
            w.join()
        raise
    elapsed = time.monotonic() - started

    latencies = sorted(x for w in workers for x in w.stats.latencies)
    per_table = {
        t: {k: sum(w.stats.per_table[t][k] for w in workers) for k in ("inserts", "updates", "deletes")}
        for t in APP_TABLES
    }
    ok = sum(w.stats.ok for w in workers)

    def pct(q: float) -> float | None:
        v = _percentile(latencies, q)
        return None if v is None else round(v * 1000, 2)

    return WorkloadReport(
        seconds=round(elapsed, 3),
        target_rate=float(rate),
        achieved_rate=round(ok / elapsed, 2) if elapsed else 0.0,
        connections=connections,
        publish=publish,
        transactions_ok=ok,
        transactions_failed=sum(w.stats.failed for w in workers),
        latency_p50_ms=pct(0.50),
        latency_p95_ms=pct(0.95),
        latency_p99_ms=pct(0.99),
        errors=errors,
        per_table=per_table,
        published={t: sum(w.stats.published[t] for w in workers) for t in APP_TABLES},
        unpublished={t: sum(w.stats.unpublished[t] for w in workers) for t in APP_TABLES},
        noops=sum(w.stats.noops for w in workers),
    )
