#!/usr/bin/env python3
"""Model-check one Promela model with SPIN and compare with what is expected.

    run_spin.py --spin SPIN --cc CC --model FILE --workdir DIR --expect pass|fail
                [--define -DX=1 ...] [--pan-cflag -DSAFETY ...] [--pan-arg -m1000 ...]

spin -a generates the verifier pan.c in DIR, CC compiles it, pan runs.
--expect pass: pan must report "errors: 0" after a complete search (no
"max search depth too small", no memory limit reached).
--expect fail: pan must report "errors: N" with N >= 1 (a broken twin, or a
reachability claim); its trail is replayed with spin -t and the last lines
are printed, so the log shows the counterexample.
Prints one summary line: name, verdict, states stored, seconds.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time


def run(cmd, cwd, timeout):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--spin', required=True)
    ap.add_argument('--cc', required=True)
    ap.add_argument('--model', required=True)
    ap.add_argument('--workdir', required=True)
    ap.add_argument('--expect', choices=['pass', 'fail'], required=True)
    ap.add_argument('--define', action='append', default=[])
    ap.add_argument('--pan-cflag', action='append', default=[])
    ap.add_argument('--pan-arg', action='append', default=[])
    ap.add_argument('--timeout', type=int, default=600)
    a = ap.parse_args()

    # each check gets its own folder: meson may run them in parallel
    if os.path.isdir(a.workdir):
        shutil.rmtree(a.workdir)
    os.makedirs(a.workdir)
    model = os.path.basename(a.model)
    shutil.copy(a.model, os.path.join(a.workdir, model))
    name = os.path.basename(a.workdir)

    rc, out = run([a.spin] + a.define + ['-a', model], a.workdir, a.timeout)
    if rc != 0:
        print(out)
        print(f'{name}: spin -a failed ({rc})')
        return 1
    # the generated verifier is not project code: no warnings wanted from it
    rc, out = run([a.cc, '-O1', '-w', '-DMEMLIM=2048'] + a.pan_cflag + ['-o', 'pan', 'pan.c'],
                  a.workdir, a.timeout)
    if rc != 0:
        print(out)
        print(f'{name}: compiling pan.c failed ({rc})')
        return 1
    t0 = time.monotonic()
    rc, out = run(['./pan'] + a.pan_arg, a.workdir, a.timeout)
    secs = time.monotonic() - t0
    print(out)
    m = re.search(r'errors: (\d+)', out)
    if not m:
        print(f'{name}: no "errors:" line in the output of pan')
        return 1
    errors = int(m.group(1))
    st = re.search(r'(\d+) states, stored', out)
    states = st.group(1) if st else '?'
    if a.expect == 'pass':
        bad = [s for s in ('max search depth too small', 'pan: reached -DMEMLIM bound',
                           'out of memory', 'Search not completed') if s in out]
        ok = errors == 0 and not bad
        why = f'errors: {errors}' + (f'; {", ".join(bad)}' if bad else '')
    else:
        ok = errors >= 1
        why = f'errors: {errors} (a counterexample was expected)'
        trail = model + '.trail'
        if os.path.exists(os.path.join(a.workdir, trail)):
            _, tr = run([a.spin] + a.define + ['-t', '-p', '-k', trail, model], a.workdir,
                        a.timeout)
            lines = [ln for ln in tr.splitlines() if 'proc' in ln or 'assert' in ln
                     or 'CYCLE' in ln or 'violated' in ln]
            print(f'--- counterexample ({len(lines)} steps), last 25 ---')
            print('\n'.join(lines[-25:]))
    verdict = 'as expected' if ok else 'NOT as expected'
    print(f'{name}: expected {a.expect}, {why}, {states} states stored, {secs:.1f} s: {verdict}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
