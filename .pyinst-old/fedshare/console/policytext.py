"""A libabac policy set's canonical form (``ABPS``, docs/formats/abac.md) written
back in the policy language, for people to read.

The ledger stores only the canonical form: comments and layout are gone, and
actions and set elements come out in canonical order, but the text compiles to
the same set (the round trip is tested). Anything this reader does not
understand raises :class:`ValueError`; the console then shows the rule IDs only.
"""
from __future__ import annotations

import datetime as _dt
import struct
from typing import List, Tuple

_SCOPES = ("subject", "resource", "context")
_TYPES = {1: "bool", 2: "int", 3: "string", 4: "timestamp", 5: "set<string>", 6: "set<int>"}
_CMP = {12: "==", 13: "!=", 14: "<", 15: "<=", 16: ">", 17: ">=", 18: "in"}
# precedence: || 1, && 2, ! 3, comparisons 4, primaries 5
_OR, _AND, _NOT, _CMP_P, _PRIM = 1, 2, 3, 4, 5
_MAX_DEPTH = 256


class _Reader:
    def __init__(self, data: bytes):
        self.b, self.i = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.i + n > len(self.b):
            raise ValueError("truncated policy set")
        v = self.b[self.i:self.i + n]
        self.i += n
        return v

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def i64(self) -> int:
        return struct.unpack(">q", self.take(8))[0]

    def str(self) -> str:
        n = self.u32()
        if n > 4096:
            raise ValueError("string too long")
        return self.take(n).decode("utf-8", "replace")


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\t", "\\t") + '"'


def _time(sec: int) -> str:
    try:
        t = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=sec)
    except OverflowError:
        return f"time({sec})"
    if not 1 <= t.year <= 9999:
        return f"time({sec})"
    return f'time("{t.strftime("%Y-%m-%dT%H:%M:%SZ")}")'


def _expr(r: _Reader, depth: int = 0) -> Tuple[str, int]:
    """(text, precedence) of the expression at the reader's position."""
    if depth > _MAX_DEPTH:
        raise ValueError("expression too deep")
    op = r.u8()
    if op == 1:
        return "true", _PRIM
    if op == 2:
        return "false", _PRIM
    if op == 3:
        return str(r.i64()), _PRIM
    if op == 4:
        return _quote(r.str()), _PRIM
    if op == 5:
        return _time(r.i64()), _PRIM
    if op == 6:
        et, n = r.u8(), r.u32()
        if et not in (5, 6) or not 1 <= n <= 4096:
            raise ValueError("bad set literal")
        items = [_quote(r.str()) if et == 5 else str(r.i64()) for _ in range(n)]
        return "[" + ", ".join(items) + "]", _PRIM
    if op in (7, 8):
        scope = r.u8()
        if scope > 2:
            raise ValueError("bad scope")
        name = r.str()
        if op == 7:
            return f"{_SCOPES[scope]}.{name}", _PRIM
        ident = name.isidentifier() and name.isascii()
        return f"{_SCOPES[scope]} has {name if ident else _quote(name)}", _CMP_P
    if op in (9, 10, 11):
        return ("subject", "resource", "action")[op - 9], _PRIM
    if op in _CMP:
        a, pa = _expr(r, depth + 1)
        b, pb = _expr(r, depth + 1)
        return f"{_wrap(a, pa, _PRIM)} {_CMP[op]} {_wrap(b, pb, _PRIM)}", _CMP_P
    if op in (19, 20):
        p = _AND if op == 19 else _OR
        a, pa = _expr(r, depth + 1)
        b, pb = _expr(r, depth + 1)
        sym = "&&" if op == 19 else "||"
        return f"{_wrap(a, pa, p)} {sym} {_wrap(b, pb, p + 1)}", p
    if op == 21:
        a, pa = _expr(r, depth + 1)
        return "!" + _wrap(a, pa, _NOT), _NOT
    raise ValueError(f"unknown expression operator {op}")


def _wrap(text: str, prec: int, need: int) -> str:
    return text if prec >= need else f"({text})"


def _conjuncts(text: str) -> List[str]:
    """Split a top-level && chain at depth 0 (outside parentheses, brackets, strings)."""
    out, depth, start, i, in_str = [], 0, 0, 0, False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(" && ", i):
            out.append(text[start:i])
            start = i + 4
            i += 3
        i += 1
    out.append(text[start:])
    return out


def render(encoding: bytes) -> str:
    """The policy set's text (raises ValueError for bytes it cannot read)."""
    r = _Reader(bytes(encoding))
    if r.take(4) != b"ABPS" or r.u8() != 1:
        raise ValueError("not a version-1 policy set")
    version = r.u64()
    n_members = r.u32()
    if n_members > 1024:
        raise ValueError("too many members")
    r.take(32 * n_members)
    lines = [f"// policy set version {version}, {n_members} members"]
    if r.u8():
        by_scope: dict = {}
        for _ in range(r.u32()):
            scope, typ, name = r.u8(), r.u8(), r.str()
            if scope > 2 or typ not in _TYPES:
                raise ValueError("bad schema attribute")
            by_scope.setdefault(scope, []).append(f"{name}: {_TYPES[typ]}")
        lines.append("// schema:")
        for s in sorted(by_scope):
            lines.append(f"//   {_SCOPES[s]} {{ {', '.join(by_scope[s])} }}")
    else:
        r.u32()
    for _ in range(r.u32()):
        effect, rid = r.u8(), r.str()
        if effect > 1:
            raise ValueError("bad rule effect")
        acts = [r.str() for _ in range(r.u32())]
        rtype = r.str() if r.u8() else None
        obl = [r.str() for _ in range(r.u32())]
        cond = _expr(r)[0] if r.u8() else None
        if not acts:
            a = "action"
        elif len(acts) == 1:
            a = f"action == {_quote(acts[0])}"
        else:
            a = "action in [" + ", ".join(_quote(x) for x in acts) + "]"
        res = f"resource is {_quote(rtype)}" if rtype is not None else "resource"
        lines.append("")
        lines.append(f"{'permit' if effect else 'forbid'} {rid} (subject, {a}, {res})")
        if cond is not None:
            parts = _conjuncts(cond)
            lines.append("when {")
            lines.append("  " + parts[0])
            lines.extend("  && " + p for p in parts[1:])
            lines.append("}")
        if obl:
            lines.append(f"obligations [{', '.join(obl)}]")
        lines[-1] += ";"
    if r.i != len(r.b):
        raise ValueError("trailing bytes after the policy set")
    return "\n".join(lines) + "\n"


def render_update(encoding: bytes) -> Tuple[bytes, bytes, List[Tuple[bytes, bytes]]]:
    """A signed update (``ABUP``): (base hash, next set's encoding, [(key, signature)])."""
    r = _Reader(bytes(encoding))
    if r.take(4) != b"ABUP" or r.u8() != 1:
        raise ValueError("not a version-1 policy update")
    base = r.take(32)
    nxt = r.take(r.u32())
    n = r.u32()
    if n > 1024:
        raise ValueError("too many signatures")
    sigs = [(r.take(32), r.take(64)) for _ in range(n)]
    if r.i != len(r.b):
        raise ValueError("trailing bytes after the policy update")
    return base, nxt, sigs


__all__ = ["render", "render_update"]
