#!/usr/bin/env python3
"""Trace validation: replay libledger replicas' protocol events against the
transitions that tests/formal/pbft.pml allows.

    trace_check.py TRACE_FILE_OR_DIR ...

Each file holds the event lines of one or more replicas (the format is in
docs/formal.md, section "Trace validation"); a directory stands for every
*.trace file in it. Each replica's lines are replayed in order against the
guards of the model's actions (the rule names below); then the checks that
need every replica's log run (agreement, every counted vote was sent, every
NEW-VIEW rests on 2f+1 VIEW-CHANGEs that were sent). A step the model does
not allow is reported as

    FAIL replica R, FILE:LINE: rule NAME: what happened

and the exit status is 1 (0: every step allowed; 2: usage). The last line
sums up: events, replicas, views entered, heights executed.

Membership is static here (n replicas, ids 0 .. n-1, primary of view v is
v mod n, quorum 2f+1 as the "start" line says).
"""

import argparse
import itertools
import os
import sys
from collections import defaultdict

EVENTS = {'start', 'pp_send', 'pp_accept', 'prep_send', 'prep_count', 'prepared', 'commit_send',
          'commit_count', 'committed', 'fetched', 'exec', 'ckpt_stable', 'vc_cert', 'vc_send',
          'nv_pp', 'nv_send', 'nv_accept', 'view'}
MAX_REPORTS = 50


class Slot:
    def __init__(self):
        self.pp = None  # (view, digest) of the accepted pre-prepare
        self.prepared = False
        self.csent = False
        self.prep = {}  # replica -> (view, digest) of its latest recorded PREPARE
        self.com = {}  # replica -> (view, digest) of its latest recorded COMMIT


class Replica:
    def __init__(self, rid):
        self.rid = rid
        self.started = False
        self.reset(0, 0)

    def reset(self, view, last_exec):
        self.view = view
        self.in_vc = False
        self.vc_target = 0
        self.last_exec = last_exec
        self.stable = 0
        self.slots = {}
        self.pending_exec = None
        self.certs = []
        self.nv_pps = []
        self.pending_nv = None

    def slot(self, s):
        if s not in self.slots:
            self.slots[s] = Slot()
        return self.slots[s]


class Checker:
    def __init__(self):
        self.reps = {}
        self.fails = []
        self.nevents = 0
        self.n = self.f = self.k = self.q = None
        # facts across replicas, each with where it was seen
        self.pp_by_primary = defaultdict(set)  # (v, s) -> digests the primary accepted
        self.pp_accepts = []  # (where, r, v, s, d) at backups
        self.sent = set()  # ('P'|'C', j, v, s, d)
        self.counted = []  # (where, r, kind, j, v, s, d)
        self.vc_sent = set()  # (j, target)
        self.vcs = defaultdict(list)  # (j, target) -> [(where, min_s, certs)]
        self.nv_sent = set()  # v
        self.nv_uses = []  # (where, r, v, mask)
        self.views_entered = []  # (where, r, v)
        self.exec_h = {}  # s -> (h, where, r)
        self.committed_d = {}  # s -> (d, where, r)
        self.ckpts = []  # (where, r, s, h)
        self.plans = 0  # NEW-VIEW plans replayed
        self.plan_certs = 0  # heights in them fixed by a prepared certificate

    def fail(self, where, r, rule, msg):
        self.fails.append(f'FAIL replica {r}, {where}: rule {rule}: {msg}')

    def prim(self, v):
        return v % self.n

    def tally(self, sl, kind, v, d, exclude=None):
        votes = sl.prep if kind == 'P' else sl.com
        return sum(1 for j, vd in votes.items() if vd == (v, d) and j != exclude)

    # ---- one replica's step ------------------------------------------------
    def step(self, where, ev, kv):
        r = kv['r']
        rep = self.reps.setdefault(r, Replica(r))
        v, s, d = kv.get('v', 0), kv.get('s', 0), kv.get('d')
        F = lambda rule, msg: self.fail(where, r, rule, f'{ev} v={v} s={s}: {msg}')  # noqa: E731
        if ev == 'start':
            for key in ('n', 'f', 'k', 'q'):
                val = kv.get(key)
                if val is None:
                    F('format', f'no {key}=')
                    return
                if getattr(self, key) is None:
                    setattr(self, key, val)
                elif getattr(self, key) != val:
                    F('config', f'{key}={val}, other replicas said {getattr(self, key)}')
            if self.q is not None and self.f is not None and self.q != 2 * self.f + 1:
                F('config', f'quorum {self.q} is not 2f+1 = {2 * self.f + 1}')
            rep.reset(v, s)
            rep.started = True
            return
        if not rep.started or self.n is None:
            F('format', 'event before the replica\'s "start" line')
            return
        if ev in ('pp_send', 'pp_accept', 'prep_send', 'prep_count', 'prepared', 'commit_send',
                  'commit_count', 'committed', 'vc_cert', 'nv_pp') and d is None:
            F('format', 'no d=')
            return
        if ev == 'pp_send':
            # maybe_propose: the primary of its current view, not in a view change
            if self.prim(v) != r or v != rep.view or rep.in_vc:
                F('pp-send', f'replica {r} in view {rep.view} (view change: {rep.in_vc}) '
                  f'may not pre-prepare for view {v}')
            if s <= rep.last_exec:
                F('pp-send', f'sequence {s} not above the last executed {rep.last_exec}')
        elif ev == 'pp_accept':
            # model ACCEPT: not in a view change, the current view, above last_exec,
            # no pre-prepare of this view held yet
            if rep.in_vc or v != rep.view:
                F('pp-accept-view', f'accepted while in view {rep.view}'
                  f'{" during a view change" if rep.in_vc else ""}')
            if s <= rep.last_exec or s <= rep.stable:
                F('pp-accept-seq', f'sequence {s} not above last executed {rep.last_exec} '
                  f'and stable checkpoint {rep.stable}')
            sl = rep.slot(s)
            if sl.pp is not None and sl.pp[0] >= v:
                F('pp-accept-once', f'the slot already holds the pre-prepare of view {sl.pp[0]} '
                  f'd={sl.pp[1]}')
            if sl.pp is not None and sl.pp[0] < v:
                sl.prepared = sl.csent = False  # slot_reset_pp: the votes stay
            sl.pp = (v, d)
            if r == self.prim(v):
                self.pp_by_primary[(v, s)].add(d)
            else:
                self.pp_accepts.append((where, r, v, s, d))
        elif ev == 'prep_send':
            sl = rep.slot(s)
            if r == self.prim(v) or sl.pp != (v, d):
                F('prep-send', f'PREPARE not for the accepted pre-prepare {sl.pp} of a backup')
            sl.prep[r] = (v, d)
            self.sent.add(('P', r, v, s, d))
        elif ev in ('prep_count', 'commit_count'):
            j = kv.get('j')
            if j is None or j == r or j >= self.n:
                F('format', f'bad sender j={j}')
                return
            if s <= rep.last_exec:
                F('vote-seq', f'a vote counted for sequence {s}, already executed')
            sl = rep.slot(s)
            votes = sl.prep if ev == 'prep_count' else sl.com
            if j in votes and votes[j][0] >= v:
                F('vote-view', f'replica {j}\'s vote of view {votes[j][0]} replaced by one of '
                  f'view {v}')
            votes[j] = (v, d)
            self.counted.append((where, r, 'P' if ev == 'prep_count' else 'C', j, v, s, d))
        elif ev == 'prepared':
            sl = rep.slot(s)
            if s != rep.last_exec + 1:
                F('prepared-next', f'not the next sequence (last executed {rep.last_exec})')
            k = self.tally(sl, 'P', v, d, exclude=self.prim(v))
            if sl.pp != (v, d) or k < 2 * self.f:
                F('prepared-quorum', f'pre-prepare {sl.pp} and {k} matching PREPAREs from '
                  f'backups; 2f = {2 * self.f} needed')
            sl.prepared = True
        elif ev == 'commit_send':
            sl = rep.slot(s)
            # model: prepared (NPREP >= 2f) and MAY_VOTE (not in a view change,
            # the slot's view is the replica's view), next height, once
            if not sl.prepared or sl.pp != (v, d):
                k = self.tally(sl, 'P', v, d, exclude=self.prim(v))
                F('commit-after-prepared', f'COMMIT sent before the slot was prepared '
                  f'(no "prepared" step; {k} of 2f = {2 * self.f} PREPAREs counted)')
            if rep.in_vc or v != rep.view:
                F('no-commit-in-view-change', f'COMMIT of view {v} sent in view {rep.view}'
                  f'{" after its VIEW-CHANGE for view %d" % rep.vc_target if rep.in_vc else ""}')
            if s != rep.last_exec + 1:
                F('commit-next', f'not the next sequence (last executed {rep.last_exec})')
            if sl.csent:
                F('commit-once', 'a second COMMIT for the same pre-prepare')
            sl.csent = True
            sl.com[r] = (v, d)
            self.sent.add(('C', r, v, s, d))
        elif ev == 'committed':
            sl = rep.slot(s)
            if s != rep.last_exec + 1:
                F('committed-next', f'not the next sequence (last executed {rep.last_exec})')
            if not sl.csent or sl.pp != (v, d):
                F('committed-after-commit', 'committed a slot it sent no COMMIT for')
            k = self.tally(sl, 'C', v, d)
            if k < self.q:
                F('committed-quorum', f'{k} matching COMMITs; 2f+1 = {self.q} needed')
            rep.pending_exec = s
            if s in self.committed_d and self.committed_d[s][0] != d:
                od, ow, orr = self.committed_d[s]
                F('agreement', f'committed d={d}, replica {orr} committed d={od} ({ow})')
            self.committed_d.setdefault(s, (d, where, r))
        elif ev == 'fetched':
            if s != rep.last_exec + 1:
                F('fetched-next', f'not the next height (last executed {rep.last_exec})')
            rep.pending_exec = s
        elif ev == 'exec':
            h = kv.get('h')
            if s != rep.last_exec + 1 or rep.pending_exec != s:
                F('exec-order', f'executed height {s} after {rep.last_exec} '
                  f'(committed or fetched: {rep.pending_exec})')
            if s in self.exec_h and self.exec_h[s][0] != h:
                oh, ow, orr = self.exec_h[s]
                F('agreement', f'block h={h} executed, replica {orr} executed h={oh} ({ow})')
            self.exec_h.setdefault(s, (h, where, r))
            rep.last_exec = max(rep.last_exec, s)
            rep.pending_exec = None
            for x in [x for x in rep.slots if x <= s]:
                del rep.slots[x]
        elif ev == 'ckpt_stable':
            if s % self.k != 0 or s <= rep.stable:
                F('ckpt-stable', f'not a multiple of K = {self.k} above the stable {rep.stable}')
            if kv.get('n', 0) < self.q:
                F('ckpt-stable', f'{kv.get("n")} signed CHECKPOINTs; 2f+1 = {self.q} needed')
            rep.stable = s
            self.ckpts.append((where, r, s, kv.get('h')))
            for x in [x for x in rep.slots if x <= s]:
                del rep.slots[x]
        elif ev == 'vc_cert':
            pv = kv.get('pv', -1)
            sl = rep.slots.get(s)
            k = self.tally(sl, 'P', pv, d, exclude=self.prim(pv)) if sl else 0
            if sl is None or sl.pp != (pv, d) or k < 2 * self.f:
                F('vc-cert-prepared', f'carries a prepared certificate of view {pv} d={d} it '
                  f'does not hold ({k} PREPAREs)')
            rep.certs.append((s, pv, d))
        elif ev == 'vc_send':
            if v <= rep.view or (rep.in_vc and v <= rep.vc_target):
                F('vc-target', f'VIEW-CHANGE to view {v} from view {rep.view} '
                  f'(asked before: {rep.vc_target if rep.in_vc else "none"})')
            if s != rep.last_exec:
                F('vc-height', f'claims height {s}, executed {rep.last_exec}')
            if kv.get('np') != len(rep.certs):
                F('format', f'np={kv.get("np")} but {len(rep.certs)} vc_cert lines')
            carried = {(x, pv, dd) for (x, pv, dd) in rep.certs}
            for x, sl in sorted(rep.slots.items()):
                # Castro-Liskov: every request it sent COMMIT for is in P
                if x > max(rep.last_exec, rep.stable) and sl.csent and sl.pp and \
                        (x, sl.pp[0], sl.pp[1]) not in carried:
                    F('vc-complete', f'omits sequence {x}, view {sl.pp[0]} d={sl.pp[1]}, for '
                      'which it sent COMMIT')
            self.vcs[(r, v)].append((where, max(s, kv.get('st', 0)), rep.certs))
            rep.certs = []
            rep.in_vc = True
            rep.vc_target = v
            self.vc_sent.add((r, v))
        elif ev == 'nv_pp':
            rep.nv_pps.append((s, d))
        elif ev in ('nv_send', 'nv_accept'):
            m = kv.get('m', 0)
            senders = [j for j in range(self.n) if (m >> j) & 1]
            if len(senders) < self.q:
                F('nv-quorum', f'NEW-VIEW built on {len(senders)} VIEW-CHANGEs '
                  f'({senders}); 2f+1 = {self.q} needed')
            if ev == 'nv_send':
                if self.prim(v) != r or not rep.in_vc or v != rep.vc_target:
                    F('nv-send', f'replica {r} (view change to {rep.vc_target}: {rep.in_vc}) '
                      f'may not send NEW-VIEW for view {v}')
                self.nv_sent.add(v)
                # the model's plan(): the NEW-VIEW's pre-prepares are the
                # primary's PRE-PREPAREs of view v (PP[v][s]), also at heights
                # it has already executed and so does not install itself
                if r == self.prim(v):
                    for x, dd in rep.nv_pps:
                        self.pp_by_primary[(v, x)].add(dd)
            elif v <= rep.view:
                F('nv-accept-view', f'NEW-VIEW for view {v} accepted in view {rep.view}')
            elif rep.in_vc and v < rep.vc_target:
                F('nv-accept-view', f'NEW-VIEW for view {v} accepted after its VIEW-CHANGE '
                  f'for view {rep.vc_target}')
            if kv.get('np') != len(rep.nv_pps):
                F('format', f'np={kv.get("np")} but {len(rep.nv_pps)} nv_pp lines')
            self.nv_uses.append((where, r, v, m, ev, s, rep.nv_pps))
            rep.nv_pps = []
            rep.pending_nv = v
        elif ev == 'view':
            if v <= rep.view:
                F('view-monotone', f'entered view {v} from view {rep.view}')
            if self.prim(v) == r and rep.pending_nv != v:
                F('view-primary', f'the primary of view {v} entered it without its NEW-VIEW')
            rep.view = v
            rep.in_vc = False
            rep.vc_target = v
            rep.pending_nv = None
            self.views_entered.append((where, r, v))

    # ---- across replicas ---------------------------------------------------
    def finish(self):
        for where, r, v, s, d in self.pp_accepts:
            if d not in self.pp_by_primary.get((v, s), ()):
                self.fail(where, r, 'pp-primary', f'pp_accept v={v} s={s} d={d}: the primary '
                          f'{self.prim(v)} of view {v} accepted no such pre-prepare')
        for where, r, kind, j, v, s, d in self.counted:
            if (kind, j, v, s, d) not in self.sent:
                name = 'PREPARE' if kind == 'P' else 'COMMIT'
                self.fail(where, r, 'vote-sent', f'counted a {name} v={v} s={s} d={d} of '
                          f'replica {j}, which never sent it')
        for where, r, v, m, ev, min_s, pps in self.nv_uses:
            for j in range(self.n):
                if (m >> j) & 1 and (j, v) not in self.vc_sent:
                    self.fail(where, r, 'nv-quorum', f'{ev} v={v}: replica {j} sent no '
                              f'VIEW-CHANGE for view {v}')
            self.check_plan(where, r, v, m, ev, min_s, pps)
            if ev == 'nv_accept' and v not in self.nv_sent:
                self.fail(where, r, 'nv-from-primary', f'nv_accept v={v}: the primary '
                          f'{self.prim(v)} sent no NEW-VIEW for view {v}')
        for where, r, v in self.views_entered:
            if v not in self.nv_sent:
                self.fail(where, r, 'view-has-newview', f'entered view {v}, for which no '
                          'NEW-VIEW was sent')
        # the model's assertion in plan(): two VIEW-CHANGEs never carry
        # different prepared blocks of one view at one height
        seen = {}
        for (j, target), sent in sorted(self.vcs.items()):
            for where, _, certs in sent:
                for s, pv, d in certs:
                    if (pv, s) in seen and seen[(pv, s)][0] != d:
                        od, ow, oj = seen[(pv, s)]
                        self.fail(where, j, 'vc-cert-unique', f'VIEW-CHANGE for view {target} '
                                  f'carries a certificate of view {pv} at {s} d={d}; replica '
                                  f'{oj} carried d={od} ({ow})')
                    seen.setdefault((pv, s), (d, where, j))
        for where, r, s, h in self.ckpts:
            if s in self.exec_h and self.exec_h[s][0] != h:
                self.fail(where, r, 'ckpt-agreement', f'stable checkpoint at {s} h={h}, '
                          f'but block {s} is h={self.exec_h[s][0]}')


    def check_plan(self, where, r, v, m, ev, min_s, pps):
        """plan_newview / the model's plan(): start above the highest certified
        height or stable checkpoint the VIEW-CHANGEs prove; up to the highest
        prepared certificate above it, each height gets the block of the
        highest-view certificate (a height without one gets a block of the
        primary's choice, an empty block in C, not checked). A replica may
        have sent several VIEW-CHANGEs for one view (it entered a lower view
        in between): the NEW-VIEW passes if some choice of one per sender
        gives its plan."""
        cands = []
        for j in range(self.n):
            if (m >> j) & 1:
                sent = self.vcs.get((j, v), [])
                if not sent:
                    return  # nv-quorum says so
                cands.append(sent)
        combos = 1
        for c in cands:
            combos *= len(c)
        if combos > 256:
            return  # not checked (never seen)
        first_err = None
        for vcs in itertools.product(*cands):
            err, ncert = self.plan_mismatch(vcs, min_s, pps)
            if err is None:
                self.plans += 1
                self.plan_certs += ncert
                return
            first_err = first_err or err
        self.fail(where, r, 'nv-plan', f'{ev} v={v}: {first_err}')

    @staticmethod
    def plan_mismatch(vcs, min_s, pps):
        want_min = max(x[1] for x in vcs)
        best = {}
        for _, _, certs in vcs:
            for s, pv, d in certs:
                if s > want_min and (s not in best or pv > best[s][0]):
                    best[s] = (pv, d)
        want_max = max(best, default=want_min)
        got = [s for s, _ in pps]
        if min_s != want_min:
            return f'starts above height {min_s}; its VIEW-CHANGEs prove {want_min}', 0
        if got != list(range(want_min + 1, want_max + 1)):
            return f'pre-prepares for heights {got}; the plan is {want_min + 1}..{want_max}', 0
        for s, d in pps:
            if s in best and best[s][1] != d:
                return (f'height {s} gets d={d}; the highest prepared certificate '
                        f'(view {best[s][0]}) is d={best[s][1]}'), 0
        return None, len(best)


def parse(line):
    parts = line.split()
    if not parts or parts[0] not in EVENTS:
        return None, None
    kv = {}
    for p in parts[1:]:
        k, sep, val = p.partition('=')
        if not sep:
            return None, None
        if k in ('d', 'h'):
            kv[k] = val
        elif k == 'm':
            kv[k] = int(val, 16)
        else:
            kv[k] = int(val)
    if 'r' not in kv:
        return None, None
    return parts[0], kv


def files_of(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(os.path.join(p, x) for x in os.listdir(p) if x.endswith('.trace'))
        else:
            out.append(p)
    return out


def check(paths):
    """Returns (failures, summary line)."""
    ck = Checker()
    files = files_of(paths)
    # each replica's lines in file order; the files may be given in any order,
    # but a replica's "start" must precede its other lines
    for path in files:
        with open(path, encoding='utf-8') as fh:
            for no, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                where = f'{os.path.basename(path)}:{no}'
                ev, kv = parse(line)
                if ev is None:
                    ck.fails.append(f'FAIL {where}: rule format: cannot read "{line}"')
                    continue
                ck.nevents += 1
                ck.step(where, ev, kv)
    if ck.n is not None:
        ck.finish()
    views = max((v for _, _, v in ck.views_entered), default=0)
    summary = (f'trace_check: {ck.nevents} events, {len(ck.reps)} replicas, {len(files)} files, '
               f'highest view {views}, {len(ck.exec_h)} heights executed, '
               f'{ck.plans} NEW-VIEW plans replayed ({ck.plan_certs} heights from prepared '
               f'certificates), {len(ck.fails)} violations')
    if ck.nevents == 0:
        ck.fails.append('FAIL: no events (is tracing on?)')
    return ck.fails, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('paths', nargs='+')
    a = ap.parse_args()
    fails, summary = check(a.paths)
    for f in fails[:MAX_REPORTS]:
        print(f)
    if len(fails) > MAX_REPORTS:
        print(f'... and {len(fails) - MAX_REPORTS} more')
    print(summary)
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
