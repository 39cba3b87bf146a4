"""Rewrite legacy logging functions mechanically: ``INSERT INTO activity_logs … VALUES …`` →
``publish_activity``.

The rewrite works on the function body as the catalog prints it (``prosrc``), with a small
SQL/PL/pgSQL tokenizer that knows strings (``'…'``, ``E'…'``), dollar quotes, quoted
identifiers, line and nested block comments. Two statement shapes are rewritten:

    INSERT INTO [schema.]activity_logs (col, …) VALUES (expr, …)[, (expr, …)];
    INSERT INTO [schema.]activity_logs (col, …) <query>;      -- SELECT …, WITH … SELECT …

Each VALUES row becomes one ``PERFORM activity_migration.publish_activity_internal(p_event_type => …, …)``
(the internal writer: the legacy trigger path, which no API role may execute) with
named arguments, mapped through the config's source column mapping. A query becomes
``PERFORM …publish_activity_internal(… _legacy_rows.col …) FROM (<query>) AS _legacy_rows(col, …)``:
the query text is kept whole and its output columns are renamed by position, as INSERT
matches them, so aliases, DISTINCT, GROUP BY or transition tables (``FROM new_rows``) in it
need no parsing; one event per row the query yields, as one legacy row per row before.
Everything else in the body (whitespace, comments, other statements) is kept byte for byte.

A function that writes the source table in any other way (``RETURNING``, ``ON CONFLICT``,
``UPDATE``/``DELETE``/``TRUNCATE``/``MERGE``/``COPY``, an ``INSERT … SELECT`` that reads the
source table itself, dynamic SQL through ``EXECUTE``) cannot be rewritten safely:
``UnrewritableFunction`` names the function and the statement, and phase 2 stops before it
changes anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, NoReturn

from ..config import MigrationConfig
from ..errors import MigrationError
from ..mapping import CONVERTERS, converts_from_text
from ..sqltext import (
    Token,
    TokenizeError,
    at_depth_zero,
    matching_paren,
    quote_ident,
    significant,
    span_text,
    split_top_level,
    tokenize,
)

REWRITE_MARKER = "-- activity-migration p2_dual_write: rewritten to call publish_activity"


class UnrewritableFunction(MigrationError):
    """A legacy function writes the source table in a form the rewriter does not handle."""


@dataclass
class FunctionRewrite:
    identity: str
    original_body: str
    new_body: str
    statements: list[str] = field(default_factory=list)  # the INSERT statements replaced

    @property
    def changed(self) -> bool:
        return self.new_body != self.original_body


# Which publish_activity parameter each event field feeds, and the cast that makes the
# named-argument call resolve whatever the column's type was.
_PARAM_OF = {
    "entity_id": ("p_entity_id", "text"),
    "metadata": ("p_payload", "jsonb"),
    "actor_id": ("p_actor_id", "uuid"),
    "customer_id": ("p_customer_id", "uuid"),
    "description": ("p_description", "text"),
    "ip_address": ("p_ip_address", "inet"),
    "user_agent": ("p_user_agent", "text"),
}

_STATEMENT_START_PREV = {";", "THEN", "ELSE", "LOOP", "BEGIN", ">>"}

# Raises UnrewritableFunction for the statement at a significant-token index, with the reason.
Fail = Callable[[int, str], NoReturn]


class Rewriter:
    """Rewrites function bodies for one config.

    :param cfg: the migration config (source table and column mapping, state schema)
    :param publish_function: qualified name of the function the rewritten bodies call, as SQL
        text (default: the state schema's internal writer, ``publish_activity_internal``)
    :param column_types: the source's columns (``catalog.source_columns``): a character column
        feeding a non-text parameter (an ip address kept as text) is converted with
        ``<state>.to_<type>_or_null``, so a value that does not convert ('unknown') gives a
        NULL field instead of failing the application's write, as the legacy insert never did
    """

    def __init__(
        self,
        cfg: MigrationConfig,
        publish_function: str | None = None,
        column_types: dict[str, dict] | None = None,
    ) -> None:
        self.cfg = cfg
        self.column_types = column_types
        self.table = cfg.source.table
        self.schema = cfg.source.schema
        self.publish = publish_function or f"{quote_ident(cfg.state_schema)}.publish_activity_internal"
        self.event_type_for = f"{quote_ident(cfg.state_schema)}.event_type_for"
        self.field_of_column = {col.lower(): f for f, col in cfg.source.columns.items()}
        self.key = cfg.source.key.lower()

    # -- classification ---------------------------------------------------------------
    def _table_ref_at(self, sig: list[Token], k: int) -> tuple[int, int] | None:
        """If sig[k] starts a reference to the source table, return (first, last) token index."""
        t = sig[k]
        name = t.ident_name()
        if name is None:
            return None
        if k + 2 < len(sig) and sig[k + 1].text == "." and sig[k + 2].ident_name() == self.table:
            if name == self.schema:
                return (k, k + 2)
            return None
        if name == self.table and not (k > 0 and sig[k - 1].text == "."):
            return (k, k)
        return None

    def _stmt_bounds(self, sig: list[Token], k: int) -> tuple[int, int]:
        a = k
        while a > 0 and not (sig[a - 1].kind == "punct" and sig[a - 1].text == ";"):
            a -= 1
        b = k
        depth = 0
        while b < len(sig):
            t = sig[b]
            if t.kind == "punct" and t.text in "([":
                depth += 1
            elif t.kind == "punct" and t.text in ")]":
                depth -= 1
            elif t.kind == "punct" and t.text == ";" and depth <= 0:
                break
            b += 1
        return a, b

    def rewrite(self, identity: str, body: str, language: str = "plpgsql") -> FunctionRewrite:
        """Return the rewritten body (unchanged when the function only reads the source table)."""
        try:
            tokens = tokenize(body)
        except TokenizeError as exc:
            raise UnrewritableFunction(f"{identity}: cannot tokenize the body: {exc}") from None
        sig = significant(tokens)
        has_execute = any(t.kind == "word" and t.upper == "EXECUTE" for t in sig)
        replacements: list[tuple[int, int, str]] = []
        statements: list[str] = []

        def fail(k: int, why: str) -> NoReturn:
            a, b = self._stmt_bounds(sig, k)
            stmt = span_text(body, sig[a:b])
            raise UnrewritableFunction(
                f"{identity} writes {self.schema}.{self.table} in a form phase 2 cannot rewrite ({why}): "
                f"{stmt.strip()[:400]!r}. Rewrite this function by hand to call publish_activity, "
                f"or change it to a plain INSERT INTO {self.table} (columns) VALUES (...); then re-run phase "
                "2."
            )

        for k, t in enumerate(sig):
            if (
                t.kind in ("string", "dollar")
                and has_execute
                and re.search(r"\b" + re.escape(self.table) + r"\b", t.text, re.IGNORECASE)
            ):
                fail(k, "dynamic SQL through EXECUTE names the table")
            ref = self._table_ref_at(sig, k)
            if ref is None:
                continue
            first, last = ref
            prev = [x.upper for x in sig[max(0, first - 3) : first]]
            a, _ = self._stmt_bounds(sig, k)
            stmt_words = {x.upper for x in sig[a:first] if x.kind == "word"}
            if prev[-2:] == ["INSERT", "INTO"]:
                replacements.append(
                    self._rewrite_insert(identity, body, sig, first - 2, last, language, fail)
                )
                statements.append(span_text(body, sig[first - 2 : self._stmt_bounds(sig, k)[1]]))
            elif prev[-1:] == ["UPDATE"] or prev[-2:] == ["UPDATE", "ONLY"]:
                fail(k, "UPDATE of the source table")
            elif prev[-2:] == ["DELETE", "FROM"] or prev[-3:] == ["DELETE", "FROM", "ONLY"]:
                fail(k, "DELETE from the source table")
            elif "TRUNCATE" in stmt_words:
                fail(k, "TRUNCATE of the source table")
            elif prev[-2:] == ["MERGE", "INTO"] or "MERGE" in stmt_words:
                fail(k, "MERGE into the source table")
            elif "COPY" in stmt_words and sig[a].upper == "COPY":
                fail(k, "COPY into the source table")
        new_body = body
        for s, e, text in sorted(replacements, reverse=True):
            new_body = new_body[:s] + text + new_body[e:]
        if replacements and REWRITE_MARKER not in new_body:
            nl = "" if new_body.startswith("\n") else "\n"
            new_body = "\n" + REWRITE_MARKER + nl + new_body
        return FunctionRewrite(
            identity=identity, original_body=body, new_body=new_body, statements=statements
        )

    # -- one INSERT ---------------------------------------------------------------------
    def _rewrite_insert(self, identity, body, sig, ins, last, language, fail: Fail) -> tuple[int, int, str]:
        prev = sig[ins - 1] if ins > 0 else None
        if prev is not None and prev.upper not in _STATEMENT_START_PREV:
            fail(ins, f"the INSERT is inside another statement (after {prev.text!r})")
        k = last + 1
        if k >= len(sig) or sig[k].text != "(":
            what = sig[k].text if k < len(sig) else "end of body"
            fail(ins, f"no column list after the table name (found {what!r})")
        close = matching_paren(sig, k)
        columns = split_top_level(sig[k + 1 : close])
        names: list[str] = []
        for col in columns:
            name = col[0].ident_name() if len(col) == 1 else None
            if name is None:
                fail(ins, f"unexpected column list entry {span_text(body, col)!r}")
            names.append(name)
        k = close + 1
        if k < len(sig) and (sig[k].upper in ("SELECT", "WITH") or sig[k].text == "("):
            return self._rewrite_insert_query(identity, body, sig, ins, k, names, language, fail)
        if k >= len(sig) or sig[k].upper != "VALUES":
            found = sig[k].text if k < len(sig) else ""
            fail(ins, f"INSERT … {found} (only INSERT … VALUES and INSERT … SELECT are rewritten)")
        k += 1
        rows: list[list[list[Token]]] = []
        while True:
            if k >= len(sig) or sig[k].text != "(":
                fail(ins, "malformed VALUES list")
            close = matching_paren(sig, k)
            rows.append(split_top_level(sig[k + 1 : close]))
            k = close + 1
            if k < len(sig) and sig[k].text == ",":
                k += 1
                continue
            break
        if k < len(sig) and sig[k].text != ";":
            fail(
                ins, f"the INSERT continues with {sig[k].text!r} (RETURNING / ON CONFLICT are not rewritten)"
            )
        end = sig[k].start if k < len(sig) else sig[k - 1].end
        calls = []
        for row in rows:
            if len(row) != len(names):
                fail(ins, f"{len(names)} columns but {len(row)} values")
            values = {
                col: span_text(body, toks).strip()
                for col, toks in zip(names, row)
                if not (len(toks) == 1 and toks[0].upper == "DEFAULT")
            }  # DEFAULT: publish's default
            calls.append(self._call(values, language, fail, ins))
        sep = ";\n    "
        return sig[ins].start, end, sep.join(calls)

    def _rewrite_insert_query(
        self, identity, body, sig, ins, q, names, language, fail: Fail
    ) -> tuple[int, int, str]:
        """``INSERT INTO t (cols) <query>`` → ``PERFORM publish(…) FROM (<query>) AS _legacy_rows(cols)``."""
        _, end_idx = self._stmt_bounds(sig, ins)
        for j, t in at_depth_zero(sig, q, end_idx):
            if t.upper == "RETURNING":
                fail(ins, "the INSERT continues with 'RETURNING' (RETURNING / ON CONFLICT are not rewritten)")
            if t.upper == "ON" and j + 1 < end_idx and sig[j + 1].upper == "CONFLICT":
                fail(
                    ins, "the INSERT continues with 'ON CONFLICT' (RETURNING / ON CONFLICT are not rewritten)"
                )
        if any(self._table_ref_at(sig, j) is not None for j in range(q, end_idx)):
            fail(ins, f"the query reads {self.schema}.{self.table}, the table it writes")
        query = sig[q:end_idx]
        width = _select_list_width(query)
        if width == "star":
            fail(ins, "SELECT * cannot be matched to the column list one by one; name the columns")
        if isinstance(width, int) and width != len(names):
            fail(ins, f"{len(names)} columns but the query selects {width}")
        alias = "_legacy_rows"
        values = {col: f"{alias}.{quote_ident(col)}" for col in names}
        call = self._call(values, language, fail, ins)
        end = sig[end_idx].start if end_idx < len(sig) else sig[end_idx - 1].end
        source = f"({span_text(body, query)}) AS {alias}({', '.join(quote_ident(c) for c in names)})"
        return sig[ins].start, end, f"{call} FROM {source}"

    def _call(self, values: dict[str, str], language, fail: Fail, ins) -> str:
        fields: dict[str, str] = {}
        for col, expr in values.items():
            if col == self.key:
                continue  # the dual-write insert lets the key default fill it
            f = self.field_of_column.get(col)
            if f is None:
                fail(
                    ins,
                    f"column {col!r} is not in the config's source.columns mapping, its value would be lost",
                )
            fields[f] = expr
        for required in ("entity_type", "action"):
            if required not in fields:
                fail(ins, f"the INSERT sets no {self.cfg.source.columns[required]} ({required})")
        ent, act = fields["entity_type"], fields["action"]
        args = [
            f"p_event_type => {self.event_type_for}(({ent})::text, ({act})::text)",
            f"p_entity_type => ({ent})::text",
        ]
        for f, (param, cast) in _PARAM_OF.items():
            if f in fields and converts_from_text(f, self.column_types, self.cfg.source.column(f)):
                args.append(
                    f"{param} => {quote_ident(self.cfg.state_schema)}.{CONVERTERS[cast]}(({fields[f]})::text)"
                )
            elif f in fields:
                args.append(f"{param} => ({fields[f]})::{cast}")
        if "occurred_at" in fields:
            args.append(f"p_occurred_at => coalesce(({fields['occurred_at']})::timestamptz, now())")
        args.append("p_source => 'trigger'")
        args.append(f"p_legacy_action => ({act})::text")
        verb = "PERFORM" if language == "plpgsql" else "SELECT"
        return f"{verb} {self.publish}(" + ", ".join(args) + ")"


# Top-level words that end a SELECT list (the clause after it starts).
_SELECT_LIST_END = {
    "FROM",
    "WHERE",
    "GROUP",
    "HAVING",
    "WINDOW",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "FETCH",
    "FOR",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "INTO",
}


def _select_list_width(query: list[Token]) -> int | str | None:
    """How many columns a plain ``SELECT [ALL|DISTINCT [ON (…)]] list …`` yields.

    ``"star"`` when the list has a ``*`` entry; ``None`` when the query is not a plain SELECT
    (``WITH``, parentheses): Postgres checks the width when the function runs.
    """
    if not query or query[0].upper != "SELECT":
        return None
    k = 1
    if k < len(query) and query[k].upper == "ALL":
        k += 1
    elif k < len(query) and query[k].upper == "DISTINCT":
        k += 1
        if k < len(query) and query[k].upper == "ON" and k + 1 < len(query) and query[k + 1].text == "(":
            k = matching_paren(query, k + 1) + 1
    end = next(
        (j for j, t in at_depth_zero(query, k) if t.kind == "word" and t.upper in _SELECT_LIST_END),
        len(query),
    )
    items = split_top_level(query[k:end])
    if any(item and item[-1].text == "*" for item in items):
        return "star"
    return len(items)


def replace_body(functiondef: str, old_body: str, new_body: str) -> str:
    """Put ``new_body`` into a ``pg_get_functiondef`` text in place of ``old_body``.

    pg_get_functiondef prints ``AS $tag$<prosrc>$tag$`` with prosrc verbatim, once.
    """
    for m in re.finditer(r"\bAS (\$[A-Za-z_0-9]*\$)", functiondef):
        start = m.end()
        tag = m.group(1)
        if functiondef[start : start + len(old_body)] == old_body and functiondef[
            start + len(old_body) :
        ].startswith(tag):
            if tag in new_body:
                raise MigrationError(f"the rewritten body contains the dollar quote {tag}")
            return functiondef[:start] + new_body + functiondef[start + len(old_body) :]
    raise MigrationError("the function body was not found in its definition (catalog changed?)")
