"""SQL text as tokens: the tokenizer, statement splitting and identifier quoting.

Used wherever the project reads SQL it did not write (legacy function bodies in phase 2,
legacy RLS expressions in phase 1) or composes identifiers into text the catalog prints.
The tokenizer keeps every character (the concatenation of all token texts is the input), so
a rewrite can replace exact spans and leave the rest byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import MigrationError


class TokenizeError(MigrationError):
    """The body could not be tokenized (unterminated string, comment or dollar quote)."""


@dataclass(frozen=True)
class Token:
    kind: str  # ws, comment, string, dollar, qident, word, number, param, punct, op
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text

    def ident_name(self) -> str | None:
        """The identifier this token names (unquoted words fold to lower case)."""
        if self.kind == "word":
            return self.text.lower()
        if self.kind == "qident":
            return self.text[1:-1].replace('""', '"')
        return None


_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")
_PARAM = re.compile(r"\$\d+")
_OP_CHARS = set("+-*/<>=~!@#%^&|`?:")


def _end_of_space(src: str, i: int) -> int:
    while i < len(src) and src[i].isspace():
        i += 1
    return i


def _end_of_line_comment(src: str, i: int) -> int:
    j = src.find("\n", i)
    return len(src) if j < 0 else j + 1


def _end_of_block_comment(src: str, i: int) -> int:
    start, n = i, len(src)
    depth, i = 1, i + 2
    while i < n and depth:
        if src.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif src.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    if depth:
        raise TokenizeError(f"unterminated block comment starting at offset {start}")
    return i


def _end_of_escape_string(src: str, i: int) -> int:
    start, n = i, len(src)
    i += 2
    while True:
        if i >= n:
            raise TokenizeError(f"unterminated E'' string starting at offset {start}")
        if src[i] == "\\":
            i += 2
        elif src[i] == "'":
            if i + 1 < n and src[i + 1] == "'":
                i += 2
            else:
                return i + 1
        else:
            i += 1


def _end_of_quoted(src: str, i: int, quote: str, what: str) -> int:
    """End of a '…' string or "…" identifier starting at ``i`` (a doubled quote is literal)."""
    start, n = i, len(src)
    i += 1
    while True:
        j = src.find(quote, i)
        if j < 0:
            raise TokenizeError(f"unterminated {what} starting at offset {start}")
        if j + 1 < n and src[j + 1] == quote:
            i = j + 2
            continue
        return j + 1


def _scan_dollar(src: str, i: int) -> tuple[int, str]:
    """A dollar-quoted body, a ``$1`` parameter, or a lone ``$`` operator."""
    m = _DOLLAR_TAG.match(src, i)
    p = _PARAM.match(src, i)
    if p:
        return p.end(), "param"
    if m:
        tag = m.group(0)
        j = src.find(tag, m.end())
        if j < 0:
            raise TokenizeError(f"unterminated dollar quote {tag} starting at offset {i}")
        return j + len(tag), "dollar"
    return i + 1, "op"


def _end_while(src: str, i: int, accept) -> int:
    while i < len(src) and accept(src[i]):
        i += 1
    return i


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$" or ord(ch) > 127


def _scan(src: str, i: int) -> tuple[int, str]:
    """(end, kind) of the token starting at ``i``."""
    c = src[i]
    if c.isspace():
        return _end_of_space(src, i), "ws"
    if src.startswith("--", i):
        return _end_of_line_comment(src, i), "comment"
    if src.startswith("/*", i):
        return _end_of_block_comment(src, i), "comment"
    if c in "eE" and src.startswith("'", i + 1):
        return _end_of_escape_string(src, i), "string"
    if c == "'":
        return _end_of_quoted(src, i, "'", "string"), "string"
    if c == '"':
        return _end_of_quoted(src, i, '"', "quoted identifier"), "qident"
    if c == "$":
        return _scan_dollar(src, i)
    if c.isalpha() or c == "_" or ord(c) > 127:
        return _end_while(src, i, _is_word_char), "word"
    if c.isdigit():
        return _end_while(src, i, lambda ch: ch.isalnum() or ch == "."), "number"
    if c in "(),;[].":
        return i + 1, "punct"
    return max(_end_while(src, i, _OP_CHARS.__contains__), i + 1), "op"


def tokenize(src: str) -> list[Token]:
    """Split SQL or PL/pgSQL text into tokens; the concatenation of all token texts is ``src``."""
    out: list[Token] = []
    i = 0
    while i < len(src):
        end, kind = _scan(src, i)
        out.append(Token(kind, src[i:end], i, end))
        i = end
    return out


def significant(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.kind not in ("ws", "comment")]


def split_top_level(tokens: list[Token], sep: str = ",") -> list[list[Token]]:
    """Split significant tokens at ``sep`` outside parentheses and brackets."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        if depth == 0 and t.kind == "punct" and t.text == sep:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def split_statements(src: str) -> list[str]:
    """Split a multi-statement SQL script at top-level semicolons (comments stay with their statement)."""
    toks = tokenize(src)
    out, cur_start, depth = [], 0, 0
    for t in toks:
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        elif t.kind == "punct" and t.text == ";" and depth == 0:
            stmt = src[cur_start : t.start]
            if significant(tokenize(stmt)):
                out.append(stmt.strip())
            cur_start = t.end
    tail = src[cur_start:]
    if significant(tokenize(tail)):
        out.append(tail.strip())
    return out


def at_depth_zero(toks: list[Token], start: int = 0, end: int | None = None):
    """``(index, token)`` for each token of ``toks[start:end]`` outside parentheses and brackets."""
    depth = 0
    for j in range(start, len(toks) if end is None else end):
        step = _nesting(toks[j])
        depth += step
        if not step and depth == 0:
            yield j, toks[j]


def matching_paren(sig: list[Token], open_idx: int) -> int:
    """Index of the bracket closing the one at ``open_idx``, or -1."""
    depth = 0
    for k in range(open_idx, len(sig)):
        step = _nesting(sig[k])
        depth += step
        if step < 0 and depth == 0:
            return k
    return -1


def _nesting(t: Token) -> int:
    """+1 for an opening bracket, -1 for a closing one, else 0."""
    if t.kind != "punct":
        return 0
    return 1 if t.text in "([" else -1 if t.text in ")]" else 0


def span_text(src: str, toks: list[Token]) -> str:
    return src[toks[0].start : toks[-1].end] if toks else ""


def quote_ident(name: str) -> str:
    """``name`` as Postgres prints an identifier: bare when lower-case plain, else double-quoted."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'
