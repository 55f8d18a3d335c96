#!/usr/bin/env python3
"""Generate the return codes of the five C libraries from their tables.

Each library has one table, ``lib<name>/codes.tsv`` (tab-separated: code,
name, kind, message, doc). From it come:

* the members of the error enum in the public header, between the markers
  ``codes:begin <lib>.<group>.enum`` and ``codes:end``;
* the deprecated alias macros (``@alias OLD NEW``), between
  ``codes:begin <lib>.<group>.aliases`` and ``codes:end``;
* the ``case`` lines of ``<prefix>_strerror()``, between
  ``codes:begin <lib>.<group>.cases`` and ``codes:end``;
* the Python table ``fedshare/_codes.py`` (``--python OUT``), which
  ``fedshare._native.check`` reads to pick the exception of a code.

The C blocks are generated and checked in, so that the installed headers are
plain, readable files; ``--check`` (a meson test) fails when a block differs
from what the table gives, ``--write`` rewrites the blocks. The Python table is
generated at build time (bindings/python/meson.build). See
docs/c-conventions.md.

Table lines: ``#`` starts a comment; the header line ``code<TAB>name…`` is
skipped; ``@group NAME HEADER SOURCE`` starts a group whose enum lives in
HEADER and whose strerror cases live in SOURCE (paths from the repository
root); ``@alias OLD NEW`` adds a deprecated name for a code of the group.
"""
from __future__ import annotations

import argparse
import difflib
import pathlib
import re
import sys
import textwrap
from typing import Dict, List, NamedTuple, Tuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIBRARIES = ("libphe", "libledger", "libfedavg", "libabac", "libfedshare")
# The kinds a code may have, and the Python exception each becomes
# (fedshare/errors.py BY_KIND).
KINDS = ("ok", "invalid", "verify", "denied", "notfound", "resource", "io", "timeout", "internal")
# Each library's range of codes (docs/c-conventions.md).
RANGES = {
    "libphe": (-199, -100),
    "libledger": (-299, -200),
    "libfedavg": (-399, -300),
    "libabac": (-499, -400),
    "libfedshare": (-599, -500),
}
WIDTH = 100


class Code(NamedTuple):
    value: int
    name: str
    kind: str
    message: str
    doc: str
    library: str
    group: str


class Group(NamedTuple):
    library: str
    name: str
    header: str
    source: str
    codes: List[Code]
    aliases: List[Tuple[str, str]]


class TableError(Exception):
    pass


def read_table(lib: str, root: pathlib.Path = ROOT) -> List[Group]:
    path = root / lib / "codes.tsv"
    groups: List[Group] = []
    seen: Dict[int, str] = {}
    names: set = set()
    lo, hi = RANGES[lib]
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.relative_to(root)}:{lineno}"
        if not raw.strip() or raw.startswith("#") or raw.startswith("code\t"):
            continue
        if raw.startswith("@group "):
            parts = raw.split()
            if len(parts) != 4:
                raise TableError(f"{where}: @group NAME HEADER SOURCE")
            groups.append(Group(lib, parts[1], parts[2], parts[3], [], []))
            continue
        if not groups:
            raise TableError(f"{where}: a code before the first @group")
        if raw.startswith("@alias "):
            parts = raw.split()
            if len(parts) != 3 or parts[2] not in names:
                raise TableError(f"{where}: @alias OLD NEW, NEW a code named above")
            groups[-1].aliases.append((parts[1], parts[2]))
            continue
        cols = raw.split("\t")
        if len(cols) != 5:
            raise TableError(f"{where}: {len(cols)} columns, want 5 (code name kind message doc)")
        value_s, name, kind, message, doc = (c.strip() for c in cols)
        try:
            value = int(value_s)
        except ValueError:
            raise TableError(f"{where}: code {value_s!r} is not an integer") from None
        if kind not in KINDS:
            raise TableError(f"{where}: kind {kind!r} not one of {', '.join(KINDS)}")
        if (value == 0) != (kind == "ok") or not (value == 0 or lo <= value <= hi):
            raise TableError(f"{where}: code {value} outside {lib}'s range {lo} … {hi}")
        if value in seen or name in names:
            raise TableError(f"{where}: code {value} or name {name} given twice")
        if not message or '"' in message or "\\" in message or "*/" in doc + message:
            raise TableError(f"{where}: the message must be non-empty plain text")
        seen[value] = name
        names.add(name)
        groups[-1].codes.append(
            Code(value, name, kind, message, doc or message, lib, groups[-1].name))
    return groups


def all_groups(root: pathlib.Path = ROOT) -> List[Group]:
    out: List[Group] = []
    for lib in LIBRARIES:
        out.extend(read_table(lib, root))
    return out


# ---------------------------------------------------------------- C blocks

def _comment(text: str, indent: str) -> List[str]:
    text = text if text.endswith((".", ")", "!", "?")) else text + "."
    one = f"{indent}/** {text} */"
    if len(one) <= WIDTH:
        return [one]
    lines = textwrap.wrap(text, WIDTH - len(indent) - 4)
    out = [f"{indent}/** {lines[0]}"]
    out += [f"{indent} *  {line}" for line in lines[1:]]
    out[-1] += " */"
    return out


def render_enum(g: Group, indent: str) -> List[str]:
    out = []
    for i, c in enumerate(g.codes):
        out += _comment(c.doc, indent)
        comma = "," if i + 1 < len(g.codes) else ""
        out.append(f"{indent}{c.name} = {c.value}{comma}")
    return out


def render_aliases(g: Group, indent: str) -> List[str]:
    return [f"{indent}#define {old} {new} /**< Deprecated name of {new}. */"
            for old, new in g.aliases]


def render_cases(g: Group, indent: str) -> List[str]:
    out = []
    for c in g.codes:
        out.append(f"{indent}case {c.name}:")
        out.append(f'{indent}    return "{c.message}";')
    return out


RENDER = {"enum": render_enum, "aliases": render_aliases, "cases": render_cases}


def _splice(text: str, block: str, group: Group, what: str, table: str) -> Tuple[str, bool]:
    """Replace the lines between the markers of ``block``; False when absent.

    The generated lines take the indentation of the begin marker."""
    lines = text.split("\n")
    s = next((i for i, line in enumerate(lines)
              if line.strip().startswith(f"/* codes:begin {block}:")
              or line.strip() == f"/* codes:begin {block} */"), None)
    if s is None:
        return text, False
    e = next((j for j in range(s + 1, len(lines)) if lines[j].strip() == "/* codes:end */"), None)
    if e is None:
        raise TableError(f"no codes:end after codes:begin {block}")
    indent = lines[s][: len(lines[s]) - len(lines[s].lstrip())]
    # The block sits inside clang-format off/on, so that formatting a file
    # never changes what the table gives.
    if s > 0 and lines[s - 1].strip() == "/* clang-format off */":
        s -= 1
    on = f"{indent}/* clang-format on */"
    if e + 1 < len(lines) and lines[e + 1].strip() == "/* clang-format on */":
        e += 1
        on = lines[e]  # clang-format indents this line itself: keep its choice
    head = [f"{indent}/* clang-format off */",
            f"{indent}/* codes:begin {block}: generated from {table} by tools/gen_codes.py */"]
    tail = [f"{indent}/* codes:end */", on]
    body = RENDER[what](group, indent)
    return "\n".join(lines[:s] + head + body + tail + lines[e + 1:]), True


def expected_files(root: pathlib.Path = ROOT) -> Dict[pathlib.Path, str]:
    """Every file that holds a generated block, with its content as the table gives it."""
    files: Dict[pathlib.Path, str] = {}
    for g in all_groups(root):
        table = f"{g.library}/codes.tsv"
        for what, path in (("enum", g.header), ("aliases", g.header), ("cases", g.source)):
            p = root / path
            text = files.get(p)
            if text is None:
                text = p.read_text(encoding="utf-8")
            block = f"{g.library}.{g.name}.{what}"
            text, found = _splice(text, block, g, what, table)
            if not found and (what != "aliases" or g.aliases):
                raise TableError(f"{path}: no block 'codes:begin {block}'")
            files[p] = text
    return files


CODE_NAME = re.compile(r"^\s*((?:PHE|LEDGER|FEDAVG|ABAC|FEDSHARE)_(?:E|ERR)_[A-Z0-9_]+)\s*="
                       r"\s*(-?\d+)", re.M)


def header_codes(root: pathlib.Path = ROOT) -> Dict[str, Tuple[int, str]]:
    """Every error-code enum member written in a public header: name -> (value, header)."""
    found: Dict[str, Tuple[int, str]] = {}
    for lib in LIBRARIES:
        for h in sorted((root / lib / "include").rglob("*.h")):
            for m in CODE_NAME.finditer(h.read_text(encoding="utf-8")):
                found[m.group(1)] = (int(m.group(2)), str(h.relative_to(root)))
    return found


def check_headers(root: pathlib.Path = ROOT) -> List[str]:
    """Codes in the public headers that the tables do not give (or give otherwise)."""
    table = {c.name: c.value for g in all_groups(root) for c in g.codes}
    problems = []
    for name, (value, header) in sorted(header_codes(root).items()):
        if table.get(name) != value:
            problems.append(f"{header}: {name} = {value} is not in its library's codes.tsv"
                            if name not in table else
                            f"{header}: {name} = {value}, but codes.tsv says {table[name]}")
    return problems


# ---------------------------------------------------------------- Python table

def render_python(groups: List[Group]) -> str:
    out = [
        '"""Return codes of libphe, libledger, libfedavg, libabac and libfedshare.',
        "",
        "Generated at build time from lib*/codes.tsv by tools/gen_codes.py: do not edit.",
        ":func:`fedshare._native.check` reads it to raise the exception of each code's kind",
        '(fedshare.errors.BY_KIND)."""',
        "# ruff: noqa: E501  (one line per code, as generated)",
        "from typing import Dict, NamedTuple",
        "",
        "",
        "class Code(NamedTuple):",
        '    """One return code: its value, C name, library, kind and message."""',
        "",
        "    value: int",
        "    name: str",
        "    library: str",
        "    kind: str",
        "    message: str",
        "",
        "",
        "#: every code of the five libraries by value (0 is each library's OK; left out)",
        "CODES: Dict[int, Code] = {",
    ]
    for g in groups:
        for c in g.codes:
            if c.value == 0:
                continue
            out.append(f"    {c.value}: Code({c.value}, {c.name!r}, {g.library[3:]!r}, "
                       f"{c.kind!r}, {c.message!r}),")
    out.append("}")
    out.append("")
    out.append("#: deprecated C names and the name each stands for")
    out.append("ALIASES: Dict[str, str] = {")
    for g in groups:
        for old, new in g.aliases:
            out.append(f"    {old!r}: {new!r},")
    out.append("}")
    out.append("")
    out.append("#: every code by its C name (deprecated names included)")
    out.append("BY_NAME: Dict[str, Code] = {c.name: c for c in CODES.values()}")
    out.append("BY_NAME.update({old: BY_NAME[new] for old, new in ALIASES.items()})")
    out.append("")
    out.append("#: each library's range of codes, (lowest, highest)")
    out.append("RANGES = {")
    for lib, (lo, hi) in RANGES.items():
        out.append(f"    {lib[3:]!r}: ({lo}, {hi}),")
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=pathlib.Path, default=ROOT, help="repository root")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail if a generated block differs")
    mode.add_argument("--write", action="store_true", help="rewrite the generated blocks")
    mode.add_argument("--python", metavar="OUT", help="write the Python table to OUT")
    args = ap.parse_args(argv)
    try:
        if args.python:
            pathlib.Path(args.python).write_text(render_python(all_groups(args.root)),
                                                 encoding="utf-8")
            return 0
        files = expected_files(args.root)
    except TableError as exc:
        print(f"gen_codes: {exc}", file=sys.stderr)
        return 2
    bad = 0
    if args.check:
        for problem in check_headers(args.root):
            print(f"gen_codes: {problem}", file=sys.stderr)
            bad += 1
    for path, want in files.items():
        have = path.read_text(encoding="utf-8")
        if have == want:
            continue
        if args.write:
            path.write_text(want, encoding="utf-8")
            print(f"gen_codes: wrote {path.relative_to(args.root)}")
            continue
        bad += 1
        sys.stdout.writelines(difflib.unified_diff(
            have.splitlines(True), want.splitlines(True),
            str(path.relative_to(args.root)), "as generated from the table"))
    if bad:
        print(f"gen_codes: {bad} problem(s): the generated blocks and the headers must match "
              "lib*/codes.tsv; run "
              "python3 tools/gen_codes.py --write (and edit lib*/codes.tsv, not the blocks)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
