"""fedshare.data — reading the centers' own CSV files as clinical files look.

One CSV per center, same columns. What real files hold and what the loader does
with it (docs/guides/demo.md §Your own data):

* **missing values** — ``?``, an empty field and ``NA`` (the markers are an
  option, ``na_values``) are *missing*: the row is dropped (``missing="drop"``,
  the default), or the value replaced by the mean of the column *in that
  center's own file* (``missing="impute"``), or the file refused
  (``missing="refuse"``). A row whose label is missing is always dropped. The
  counts are reported per file (:attr:`Table.counts`).
* **no header line** — ``header=False`` and the column names given by
  ``columns``.
* **the label** — a column named by ``label``; it is 0/1 already, or a rule says
  which values are positive: ``positive=">0"`` (any of ``>``, ``>=``, ``<``,
  ``<=``, ``==``, ``!=`` and a number) or a list of values ``"2,3,4"`` /
  ``"M"`` (compared as text, so it also serves text labels).
* **categorical columns** — ``categorical=["sex", "cp=1|2|3|4"]`` one-hot
  encodes each named column; its categories are those given after ``=``, or
  else the sorted union of the values found in the files (category names, never
  records, cross between centers).
* **anything it cannot use** — text in a numeric column, ``nan``, ``inf``, a row
  with the wrong number of fields — is refused at load time with
  :class:`fedshare.InvalidInputError` naming the file, the line and the column.

Feature scaling (:func:`scale`) is per center by default: each center
standardizes its records with its own means and standard deviations, as a real
participant can. ``"federated"`` standardizes every center with the
consortium-wide means and variances computed from each center's count, sum and
sum of squares (what one round of secure aggregation gives; the demo adds the
three triples in one process, never the records). Scaling over pooled records,
which no participant holds, is not offered.
"""
from __future__ import annotations

import argparse
import csv
import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import errors

__all__ = ["LoadOptions", "Table", "load_centers", "label_rule", "scale", "add_arguments",
           "options_from_args", "NA_DEFAULT"]

#: Missing-value markers by default (compared after stripping blanks).
NA_DEFAULT = ("?", "", "NA")

_NONFINITE = re.compile(r"^[+-]?(nan|inf|infinity)$", re.IGNORECASE)
_RULE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([^\s].*?)\s*$")


@dataclass
class LoadOptions:
    """How to read the centers' files (see the module text)."""

    label: str
    positive: Optional[str] = None
    missing: str = "drop"
    na_values: Sequence[str] = NA_DEFAULT
    header: bool = True
    columns: Optional[Sequence[str]] = None
    categorical: Sequence[str] = ()


@dataclass
class Table:
    """The centers' records, one block per center."""

    X: np.ndarray  # float64, records × features (unscaled)
    y: np.ndarray  # float32 0/1
    feature_names: List[str]
    label: str
    source: str
    owners: List[np.ndarray]  # each center's record indices
    counts: List[Dict[str, Any]] = field(default_factory=list)  # per file
    label_rule: str = "0/1"
    #: a short description of the data for the ledger's data-set label (<= 64 bytes)
    ledger_label: str = "records"


def label_rule(text: Optional[str]):
    """A function value (str) -> 0.0/1.0 or None (not a label), and its description."""
    if text is None:
        def zero_one(v: str):
            try:
                f = float(v)
            except ValueError:
                return None
            return f if f in (0.0, 1.0) else None
        return zero_one, "0/1"
    m = _RULE.match(text)
    if m:
        op, num = m.group(1), m.group(2)
        try:
            ref = float(num)
        except ValueError:
            raise errors.InvalidInputError(f"--positive {text!r}: {num!r} is not a number") \
                from None
        if not math.isfinite(ref):
            raise errors.InvalidInputError(f"--positive {text!r}: the number must be finite")
        cmp = {">": lambda a: a > ref, ">=": lambda a: a >= ref, "<": lambda a: a < ref,
               "<=": lambda a: a <= ref, "==": lambda a: a == ref, "!=": lambda a: a != ref}[op]

        def numeric(v: str):
            try:
                f = float(v)
            except ValueError:
                return None
            if not math.isfinite(f):
                return None
            return 1.0 if cmp(f) else 0.0
        return numeric, f"positive when label {op} {num}"
    values = [v.strip() for v in text.split(",")]
    if not text.strip() or any(not v for v in values):
        raise errors.InvalidInputError(f"--positive {text!r}: a rule like '>0' or a list of "
                                       "values like '2,3,4'")
    vs = set(values)

    def listed(v: str):
        return 1.0 if v in vs else 0.0
    return listed, f"positive when label is one of {', '.join(values)}"


def _categories(spec: Sequence[str]) -> Dict[str, Optional[List[str]]]:
    out: Dict[str, Optional[List[str]]] = {}
    for s in spec:
        name, eq, cats = s.partition("=")
        name = name.strip()
        if not name:
            raise errors.InvalidInputError(f"--categorical {s!r}: no column name")
        given = [c.strip() for c in cats.split("|")] if eq else None
        out[name] = given
        if eq and (not cats.strip() or any(not c for c in (given or []))):
            raise errors.InvalidInputError(f"--categorical {s!r}: empty category")
    return out


def _read(path: str, opt: LoadOptions) -> Tuple[List[str], List[Tuple[int, List[str]]]]:
    try:
        f = open(path, newline="")
    except OSError as e:
        raise errors.InvalidInputError(f"{path}: cannot read: {e.strerror}") from None
    try:
        with f:
            rows = [(ln, r) for ln, r in enumerate(csv.reader(f), start=1)]
    except UnicodeDecodeError:
        raise errors.InvalidInputError(f"{path}: not a text (UTF-8) CSV file") from None
    except csv.Error as e:
        raise errors.InvalidInputError(f"{path}: not a CSV file: {e}") from None
    rows = [(ln, r) for ln, r in rows if r and any(c.strip() for c in r)]
    if opt.header:
        if opt.columns:
            raise errors.InvalidInputError("column names (--columns) are for files without a "
                                           "header line (--no-header)")
        if not rows:
            raise errors.InvalidInputError(f"{path}: empty file (a header line is needed)")
        head = [h.strip() for h in rows[0][1]]
        body = rows[1:]
    else:
        if not opt.columns:
            raise errors.InvalidInputError(f"{path}: a file without a header needs the column "
                                           "names (--columns)")
        head = [c.strip() for c in opt.columns]
        body = rows
    if len(set(head)) != len(head):
        raise errors.InvalidInputError(f"{path}: duplicate column names")
    if opt.label not in head:
        raise errors.InvalidInputError(f"{path}: no column named {opt.label!r} "
                                       f"(columns: {', '.join(head)})")
    for ln, r in body:
        if len(r) != len(head):
            raise errors.InvalidInputError(f"{path}:{ln}: {len(r)} fields, the columns are "
                                           f"{len(head)}")
    return head, body


def load_centers(paths: Sequence[str], opt: LoadOptions) -> Table:
    """Read one CSV per center (see the module text); raises
    :class:`fedshare.InvalidInputError` naming file, line and column."""
    if opt.missing not in ("drop", "impute", "refuse"):
        raise errors.InvalidInputError("missing is 'drop', 'impute' or 'refuse'")
    na = {v.strip() for v in opt.na_values}
    rule, rule_text = label_rule(opt.positive)
    cats = _categories(opt.categorical)
    files = [_read(p, opt) for p in paths]
    head = files[0][0]
    for p, (h, _) in zip(paths, files):
        if h != head:
            raise errors.InvalidInputError(f"{p}: columns differ from {paths[0]}'s")
    unknown = [c for c in cats if c not in head or c == opt.label]
    if unknown:
        raise errors.InvalidInputError(f"--categorical: no feature column {unknown[0]!r}")
    li = head.index(opt.label)
    feats = [i for i in range(len(head)) if i != li]
    # the categories of each categorical column: given, or the values the files hold
    for c, given in list(cats.items()):
        if given is None:
            ci = head.index(c)
            seen = {r[ci].strip() for _, body in files for _, r in body} - na
            cats[c] = sorted(seen, key=lambda s: (_num_key(s), s))
    full: Dict[str, List[str]] = {c: given or [] for c, given in cats.items()}
    names: List[str] = []
    for i in feats:
        if head[i] in full:
            names += [f"{head[i]}={v}" for v in full[head[i]]]
        else:
            names.append(head[i])
    blocks, labels, counts = [], [], []
    for p, (_, body) in zip(paths, files):
        rows: List[List[float]] = []
        ys: List[float] = []
        cnt: Dict[str, Any] = {"file": p, "rows": len(body), "kept": 0, "dropped_missing": 0,
               "dropped_label": 0, "imputed": 0, "missing_by_column": {}}
        for ln, r in body:
            lab = r[li].strip()
            if lab in na:
                cnt["dropped_label"] += 1
                continue
            yv = rule(lab)
            if yv is None:
                raise errors.InvalidInputError(
                    f"{p}:{ln}: column {opt.label!r}: label {lab!r} is not "
                    f"{'0 or 1' if opt.positive is None else 'a number'} (give a rule with "
                    "--positive, e.g. '>0' or a list of values)")
            vals: List[float] = []
            gap = False
            for i in feats:
                c, col = r[i].strip(), head[i]
                if c in na:
                    cnt["missing_by_column"][col] = cnt["missing_by_column"].get(col, 0) + 1
                    if opt.missing == "refuse":
                        raise errors.InvalidInputError(
                            f"{p}:{ln}: column {col!r}: missing value {c!r} (missing values "
                            "are refused; --missing drop or impute)")
                    gap = True
                    vals += [math.nan] * (len(full[col]) if col in full else 1)
                    continue
                if col in full:
                    if c not in full[col]:
                        raise errors.InvalidInputError(
                            f"{p}:{ln}: column {col!r}: {c!r} is not one of its categories "
                            f"({'|'.join(full[col])})")
                    vals += [1.0 if c == v else 0.0 for v in full[col]]
                    continue
                if _NONFINITE.match(c):
                    raise errors.InvalidInputError(f"{p}:{ln}: column {col!r}: {c!r} is not a "
                                                   "finite number")
                try:
                    v = float(c)
                except ValueError:
                    raise errors.InvalidInputError(
                        f"{p}:{ln}: column {col!r}: not a number: {c!r} (a text column? "
                        "one-hot encode it with --categorical)") from None
                if not math.isfinite(v):
                    raise errors.InvalidInputError(f"{p}:{ln}: column {col!r}: {c!r} is not a "
                                                   "finite number")
                vals.append(v)
            if gap and opt.missing == "drop":
                cnt["dropped_missing"] += 1
                continue
            rows.append(vals)
            ys.append(yv)
        if not rows:
            raise errors.InvalidInputError(f"{p}: no usable rows ({cnt['rows']} read, "
                                           f"{cnt['dropped_missing']} with missing values, "
                                           f"{cnt['dropped_label']} without a label)")
        X = np.asarray(rows, dtype=np.float64)
        if opt.missing == "impute":  # this center's own column means, never pooled
            holes = np.isnan(X)
            cnt["imputed"] = sum(cnt["missing_by_column"].values())
            if holes.any():
                empty = ~(~holes).any(axis=0)
                if empty.any():
                    j = int(np.flatnonzero(empty)[0])
                    raise errors.InvalidInputError(
                        f"{p}: column {names[j]!r} has no value in this file to impute from")
                X = np.where(holes, np.nanmean(X, axis=0)[None, :], X)
        cnt["kept"] = len(rows)
        blocks.append(X)
        labels.append(np.asarray(ys, dtype=np.float32))
        counts.append(cnt)
    owners, start = [], 0
    for b in blocks:
        owners.append(np.arange(start, start + len(b)))
        start += len(b)
    src = ", ".join(paths)
    return Table(np.concatenate(blocks), np.concatenate(labels), names, opt.label, src, owners,
                 counts, rule_text, _ledger_label(opt.label))


def _num_key(s: str) -> float:
    try:
        f = float(s)
        return f if math.isfinite(f) else math.inf
    except ValueError:
        return math.inf


def _ledger_label(label: str) -> str:
    """The data-set label recorded on the ledger: what the records predict."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or "label"
    return ("records-" + clean)[:64]


def scale(X: np.ndarray, owners: Sequence[np.ndarray], fit: Sequence[np.ndarray],
          mode: str = "center") -> Tuple[np.ndarray, List[Dict[str, List[float]]]]:
    """Standardize each center's records: ``owners[h]`` are center h's record
    indices, ``fit[h]`` those its statistics come from (its training records).
    ``mode`` "center" (default): each center with its own mean and standard
    deviation; "federated": all with the consortium-wide ones, computed from
    each center's (count, sum, sum of squares) only. Returns the scaled float32
    records and each center's scaling ({"mean", "std"}, as ``fedshare train
    --scale`` reads it)."""
    if mode not in ("center", "federated"):
        raise errors.InvalidInputError("scaling is 'center' or 'federated'")
    out = np.empty(X.shape, dtype=np.float32)
    stats = []
    for f in fit:
        Z = X[f]
        stats.append((len(Z), Z.sum(axis=0), (Z * Z).sum(axis=0)))
    if mode == "federated":
        n = sum(s[0] for s in stats)
        mu = sum(s[1] for s in stats) / n
        var = np.maximum(sum(s[2] for s in stats) / n - mu * mu, 0.0)
        per = [(mu, np.sqrt(var))] * len(stats)
    else:
        per = []
        for cnt, s1, s2 in stats:
            mu = s1 / cnt
            per.append((mu, np.sqrt(np.maximum(s2 / cnt - mu * mu, 0.0))))
    scales = []
    for idx, (mu, sd) in zip(owners, per):
        sd = np.where(sd > 1e-12, sd, 1.0)
        out[idx] = ((X[idx] - mu) / sd).astype(np.float32)
        scales.append({"mean": mu.tolist(), "std": sd.tolist()})
    return out, scales


# --- command-line options (fedshare demo) ---------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The loader's options on a parser (`fedshare demo --data …`)."""
    p.add_argument("--positive", default=None, metavar="RULE",
                   help="which label values are positive: a rule like '>0' (>, >=, <, <=, ==, "
                        "!= and a number) or a list of values like '2,3,4' (default: the "
                        "label is 0/1)")
    p.add_argument("--missing", choices=("drop", "impute", "refuse"), default="drop",
                   help="rows with a missing value: drop them (default), impute the center's "
                        "own column mean, or refuse the file")
    p.add_argument("--na", default=",".join(NA_DEFAULT), metavar="MARKERS",
                   help="comma-separated missing-value markers (default '?,,NA': ?, empty, NA)")
    p.add_argument("--no-header", action="store_true",
                   help="the CSVs have no header line; name the columns with --columns")
    p.add_argument("--columns", default=None, metavar="NAMES",
                   help="comma-separated column names of a file without a header")
    p.add_argument("--categorical", action="append", default=[], metavar="COLUMN[=A|B|…]",
                   help="one-hot encode this column (categories given, or those found); "
                        "repeatable")
    p.add_argument("--scaling", choices=("center", "federated"), default="center",
                   help="feature scaling: each center its own mean/std (default), or the "
                        "consortium's from each center's sums (federated); never pooled records")


def options_from_args(args: argparse.Namespace) -> LoadOptions:
    na = tuple(args.na.split(",")) if args.na is not None else NA_DEFAULT
    cols = [c.strip() for c in args.columns.split(",")] if args.columns else None
    return LoadOptions(label=args.label, positive=args.positive, missing=args.missing,
                       na_values=na, header=not args.no_header, columns=cols,
                       categorical=list(args.categorical))
