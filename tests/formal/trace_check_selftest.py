#!/usr/bin/env python3
"""The trace checker must accept a real run and fail every doctored copy.

    trace_check_selftest.py TRACE_DIR

TRACE_DIR holds the traces of one run of the seeded randomized cluster test
(tests/formal/traces/pbft-randomized: 4 replicas, crashes, a partition, two
view changes, state transfer). The checker must find no violation in it.
Then each doctoring below removes, changes or reorders a few lines so that
one step is no longer one the PBFT model allows, and the checker must fail
naming that rule (and the replica, where one replica is to blame). Prints
one line per case; exit status 0 when every case is as expected.
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


# ---- doctorings: each takes {file: lines} (a copy) and returns the rule and
# the replica that must be named (None: any) -----------------------------

def drop_prepares(t):
    """A replica prepared with fewer than 2f matching PREPAREs."""
    lines = t['replica-3.trace']
    i = first(lines, lambda x: x.startswith('prepared '))
    k = key_of(lines[i])
    lines[:i] = [x for x in lines[:i] if not (x.startswith('prep_count ') and key_of(x) == k)]
    return 'prepared-quorum', 3


def commit_before_prepared(t):
    """COMMIT sent before the slot was prepared (the lines swapped)."""
    lines = t['replica-3.trace']
    i = first(lines, lambda x: x.startswith('prepared '))
    j = first(lines, lambda x: x.startswith('commit_send ') and key_of(x) == key_of(lines[i]), i)
    lines.insert(i, lines.pop(j))
    return 'commit-after-prepared', 3


def commit_after_viewchange(t):
    """COMMIT sent after the replica's VIEW-CHANGE (the bug SPIN found)."""
    lines = t['replica-1.trace']
    i = first(lines, lambda x: x.startswith('vc_send ') and field(x, 'np') != '0')
    # the last COMMIT sent before the VIEW-CHANGE, moved to just after it
    j = max(n for n in range(i) if lines[n].startswith('commit_send '))
    lines.insert(i, lines.pop(j))
    return 'no-commit-in-view-change', 1


def drop_commits(t):
    """Committed with fewer than 2f+1 matching COMMITs."""
    lines = t['replica-0.trace']
    i = first(lines, lambda x: x.startswith('committed '))
    k = key_of(lines[i])
    lines[:i] = [x for x in lines[:i] if not (x.startswith('commit_count ') and key_of(x) == k)]
    return 'committed-quorum', 0


def fork(t):
    """Two replicas executed different blocks at one height."""
    lines = t['replica-2.trace']
    i = first(lines, lambda x: x.startswith('exec ') and field(x, 's') == '5')
    lines[i] = re.sub(r'h=\S+', 'h=00000000deadbeef', lines[i])
    return 'agreement', None


def skip_height(t):
    """Executed a height without committing or fetching it."""
    lines = t['replica-3.trace']
    i = first(lines, lambda x: x.startswith('committed '))
    del lines[i]
    return 'exec-order', 3


def omit_certificate(t):
    """A VIEW-CHANGE without the prepared certificate of a slot it sent
    COMMIT for (Castro-Liskov's P set)."""
    lines = t['replica-1.trace']
    i = first(lines, lambda x: x.startswith('vc_send ') and field(x, 'np') != '0')
    # one of its certificates for which the replica sent COMMIT
    j = first(lines, lambda x: x.startswith('vc_cert ') and any(
        y.startswith('commit_send ') and key_of(y)[1:] == key_of(x)[1:] for y in lines[:i]),
        max(0, i - 64))
    del lines[j]
    i -= 1
    lines[i] = re.sub(r'np=(\d+)', lambda m: f'np={int(m.group(1)) - 1}', lines[i])
    return 'vc-complete', 1


def small_newview(t):
    """A NEW-VIEW accepted with only 2f VIEW-CHANGEs."""
    for name in t:
        lines = t[name]
        for i, x in enumerate(lines):
            if x.startswith('nv_accept '):
                m = int(field(x, 'm'), 16)
                m &= m - 1  # drop its lowest replica
                lines[i] = re.sub(r'm=\S+', f'm={m:x}', x)
                return 'nv-quorum', int(field(x, 'r'))
    raise LookupError('no nv_accept')


def forged_vote(t):
    """A PREPARE counted that its sender never sent."""
    lines = t['replica-0.trace']
    i = first(lines, lambda x: x.startswith('prep_count '))
    lines[i] = re.sub(r'd=\S+', 'd=0123456789abcdef', lines[i])
    return 'vote-sent', 0


def foreign_preprepare(t):
    """A backup accepted a pre-prepare its primary never made."""
    lines = t['replica-3.trace']
    i = first(lines, lambda x: x.startswith('pp_accept '))
    lines[i] = re.sub(r'd=\S+', 'd=fedcba9876543210', lines[i])
    return 'pp-primary', 3


def view_back(t):
    """A replica went back to an older view."""
    lines = t['replica-1.trace']
    i = max(n for n, x in enumerate(lines) if x.startswith('view '))
    lines.insert(i + 1, re.sub(r'\bv=\d+', 'v=1', lines[i]))
    return 'view-monotone', 1


def bad_checkpoint(t):
    """A stable checkpoint whose hash is not the block's."""
    lines = t['replica-0.trace']
    i = first(lines, lambda x: x.startswith('ckpt_stable '))
    lines[i] = re.sub(r'h=\S+', 'h=1111111111111111', lines[i])
    return 'ckpt-agreement', 0


CASES = [drop_prepares, commit_before_prepared, commit_after_viewchange, drop_commits, fork,
         skip_height, omit_certificate, small_newview, forged_vote, foreign_preprepare, view_back,
         bad_checkpoint]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    src = sys.argv[1]
    ok = True
    fails, summary = trace_check.check([src])
    good = not fails
    print(f'{"ok  " if good else "BAD "} the real run: {summary}')
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
