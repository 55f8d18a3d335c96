#!/usr/bin/env python3
"""The trace checker must accept a real run and fail every doctored copy.

    trace_check_selftest.py TRACE_DIR [GOOD_DIR ...]

TRACE_DIR holds the traces of one real run (tests/formal/traces/
pbft-lossy-view-changes: test_view_changes_with_prepared_slots, 4 replicas,
a quarter of the messages lost, view changes up to view 4 carrying prepared
certificates into NEW-VIEWs, checkpoints, state transfer). The checker must
find no violation in it.
Then each doctoring below removes, changes or reorders a few lines so that
one step is no longer one the PBFT model allows, and the checker must fail
naming that rule (and the replica, where one replica is to blame). Each
GOOD_DIR holds the traces of another real run that must pass as it is
(pbft-newview-executed-height: a NEW-VIEW primary that had already executed
a height it re-proposes, so accepted no pre-prepare for it itself; the
checker named it under rule pp-primary before the NEW-VIEW's pre-prepares
counted as the primary's). Prints one line per case; exit status 0 when
every case is as expected.
"""

import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trace_check  # noqa: E402


def load(d):
    out = {}
    for name in sorted(os.listdir(d)):
        if name.endswith('.trace'):
            with open(os.path.join(d, name), encoding='utf-8') as fh:
                out[name] = fh.read().splitlines()
    return out


def field(line, key):
    m = re.search(r'\b' + key + r'=(\S+)', line)
    return m.group(1) if m else None


def key_of(line):
    return (field(line, 'v'), field(line, 's'), field(line, 'd'))


def first(lines, pred, start=0):
    for i in range(start, len(lines)):
        if pred(lines[i]):
            return i
    raise LookupError('no such line in the trace')


def find(t, pred):
    """The first (file, index) in any replica's file whose line satisfies pred."""
    for name in sorted(t):
        for i, x in enumerate(t[name]):
            if pred(t[name], i, x):
                return name, i
    raise LookupError('no place in the trace for this doctoring')


def rid(line):
    return int(field(line, 'r'))


# ---- doctorings: each takes {file: lines} (a copy), changes it, and returns
# the rule and the replica that must be named (None: any) -----------------

def drop_prepares(t):
    """A replica prepared with fewer than 2f matching PREPAREs."""
    name, i = find(t, lambda ls, i, x: x.startswith('prepared '))
    lines = t[name]
    k = key_of(lines[i])
    lines[:i] = [x for x in lines[:i] if not (x.startswith('prep_count ') and key_of(x) == k)]
    return 'prepared-quorum', rid(lines[-1])


def commit_before_prepared(t):
    """COMMIT sent before the slot was prepared (the lines swapped)."""
    name, i = find(t, lambda ls, i, x: x.startswith('prepared '))
    lines = t[name]
    j = first(lines, lambda x: x.startswith('commit_send ') and key_of(x) == key_of(lines[i]), i)
    lines.insert(i, lines.pop(j))
    return 'commit-after-prepared', rid(lines[i])


def commit_after_viewchange(t):
    """COMMIT sent after the replica's VIEW-CHANGE (the bug SPIN found)."""
    # a VIEW-CHANGE with a COMMIT sent before it, in the same view
    def ok(ls, i, x):
        return x.startswith('vc_send ') and any(
            y.startswith('commit_send ') for y in ls[max(0, i - 15):i])
    name, i = find(t, ok)
    lines = t[name]
    j = max(n for n in range(max(0, i - 15), i) if lines[n].startswith('commit_send '))
    line = lines.pop(j)
    lines.insert(i, line)  # now just after the vc_send (which moved up by one)
    return 'no-commit-in-view-change', rid(line)


def drop_commits(t):
    """Committed with fewer than 2f+1 matching COMMITs."""
    name, i = find(t, lambda ls, i, x: x.startswith('committed '))
    lines = t[name]
    k = key_of(lines[i])
    lines[:i] = [x for x in lines[:i] if not (x.startswith('commit_count ') and key_of(x) == k)]
    return 'committed-quorum', rid(lines[-1])


def fork(t):
    """Two replicas executed different blocks at one height."""
    name, i = find(t, lambda ls, i, x: x.startswith('exec ') and field(x, 's') == '3'
                   and name_of(ls, t) != 'replica-0.trace')
    t[name][i] = re.sub(r'h=\S+', 'h=00000000deadbeef', t[name][i])
    return 'agreement', None


def name_of(lines, t):
    return next(n for n, ls in t.items() if ls is lines)


def skip_height(t):
    """Executed a height without committing or fetching it."""
    name, i = find(t, lambda ls, i, x: x.startswith('committed '))
    r = rid(t[name][i])
    del t[name][i]
    return 'exec-order', r


def omit_certificate(t):
    """A VIEW-CHANGE without the prepared certificate of a slot it sent
    COMMIT for (Castro-Liskov's P set)."""
    def ok(ls, i, x):
        return x.startswith('vc_cert ') and any(
            y.startswith('commit_send ') and key_of(y)[1:] == key_of(x)[1:] for y in ls[:i])
    name, j = find(t, ok)
    lines = t[name]
    del lines[j]
    i = first(lines, lambda x: x.startswith('vc_send '), j)
    lines[i] = re.sub(r'np=(\d+)', lambda m: f'np={int(m.group(1)) - 1}', lines[i])
    return 'vc-complete', rid(lines[i])


def small_newview(t):
    """A NEW-VIEW accepted with only 2f VIEW-CHANGEs."""
    name, i = find(t, lambda ls, i, x: x.startswith('nv_accept '))
    x = t[name][i]
    m = int(field(x, 'm'), 16)
    m &= m - 1  # drop its lowest replica
    t[name][i] = re.sub(r'm=\S+', f'm={m:x}', x)
    return 'nv-quorum', rid(x)


def wrong_plan_block(t):
    """A new primary re-proposes, at a height with a prepared certificate,
    another block than the certificate's (plan_newview broken)."""
    name, i = find(t, lambda ls, i, x: x.startswith('nv_pp ') and any(
        y.startswith('vc_cert ') and field(y, 's') == field(x, 's') for u in t.values()
        for y in u))
    t[name][i] = re.sub(r'd=\S+', 'd=abababababababab', t[name][i])
    return 'nv-plan', rid(t[name][i])


def wrong_plan_start(t):
    """A NEW-VIEW that starts above another height than its VIEW-CHANGEs prove."""
    name, i = find(t, lambda ls, i, x: x.startswith('nv_send ') and field(x, 'np') != '0')
    x = t[name][i]
    t[name][i] = re.sub(r'\bs=(\d+)', lambda m: f's={int(m.group(1)) + 1}', x)
    return 'nv-plan', rid(x)


def forged_vote(t):
    """A PREPARE counted that its sender never sent."""
    name, i = find(t, lambda ls, i, x: x.startswith('prep_count '))
    t[name][i] = re.sub(r'd=\S+', 'd=0123456789abcdef', t[name][i])
    return 'vote-sent', rid(t[name][i])


def foreign_preprepare(t):
    """A backup accepted a pre-prepare its primary never made."""
    name, i = find(t, lambda ls, i, x: x.startswith('pp_accept ') and
                   rid(x) != int(field(x, 'v')) % 4)
    t[name][i] = re.sub(r'd=\S+', 'd=fedcba9876543210', t[name][i])
    return 'pp-primary', rid(t[name][i])


def view_back(t):
    """A replica went back to an older view."""
    name, i = find(t, lambda ls, i, x: x.startswith('view ') and int(field(x, 'v')) >= 2)
    x = t[name][i]
    t[name].insert(i + 1, re.sub(r'\bv=\d+', 'v=1', x))
    return 'view-monotone', rid(x)


def bad_checkpoint(t):
    """A stable checkpoint whose hash is not the block's."""
    name, i = find(t, lambda ls, i, x: x.startswith('ckpt_stable '))
    t[name][i] = re.sub(r'h=\S+', 'h=1111111111111111', t[name][i])
    return 'ckpt-agreement', rid(t[name][i])


def newview_below_asked(t):
    """A NEW-VIEW accepted after the replica asked for a higher view.

    Its VIEW-CHANGE for view v+1 goes out before the NEW-VIEW of view v
    arrives (what lc_replica.c did before it refused such a NEW-VIEW)."""
    def ok(ls, i, x):
        if not x.startswith('nv_accept '):
            return False
        v = field(x, 'v')
        return any(y.startswith('vc_send ') and field(y, 'v') == v for y in ls[max(0, i - 30):i])
    name, i = find(t, ok)
    lines = t[name]
    v = int(field(lines[i], 'v'))
    j = max(n for n in range(max(0, i - 30), i)
            if lines[n].startswith('vc_send ') and field(lines[n], 'v') == str(v))
    lines.insert(j + 1, re.sub(r'np=\d+', 'np=0', re.sub(r'\bv=\d+', f'v={v + 1}', lines[j])))
    return 'nv-accept-view', rid(lines[j])


CASES = [drop_prepares, commit_before_prepared, commit_after_viewchange, drop_commits, fork,
         skip_height, omit_certificate, small_newview, wrong_plan_block, wrong_plan_start,
         forged_vote, foreign_preprepare, view_back, bad_checkpoint, newview_below_asked]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    src = sys.argv[1]
    ok = True
    for d in sys.argv[1:]:
        fails, summary = trace_check.check([d])
        good = not fails
        print(f'{"ok  " if good else "BAD "} the real run {os.path.basename(d)}: {summary}')
        for f in fails[:10]:
            print('     ' + f)
        ok &= good
    for case in CASES:
        t = load(src)
        try:
            rule, replica = case(t)
        except (LookupError, ValueError) as e:
            print(f'BAD  {case.__name__}: the trace has no place for it ({e})')
            ok = False
            continue
        tmp = tempfile.mkdtemp(prefix='trace-doctored-')
        try:
            for name, lines in t.items():
                with open(os.path.join(tmp, name), 'w', encoding='utf-8') as fh:
                    fh.write('\n'.join(lines) + '\n')
            fails, _ = trace_check.check([tmp])
        finally:
            shutil.rmtree(tmp)
        want = f'rule {rule}:'
        hit = [f for f in fails if want in f and
               (replica is None or f.startswith(f'FAIL replica {replica},'))]
        good = bool(hit)
        print(f'{"ok  " if good else "BAD "} {case.__name__} ({case.__doc__.split(chr(10))[0]}) '
              f'-> {hit[0] if hit else "no " + want + " in " + repr(fails[:3])}')
        ok &= good
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
