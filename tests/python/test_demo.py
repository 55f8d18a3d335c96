"""`fedshare demo` (what `make demo` runs): the interim threshold-Paillier demo."""
import argparse
import subprocess
import sys

from fedshare._demo import threshold as _demo_threshold
from fedshare.phe import threshold


def test_demo_runs_passes_and_says_what_it_is():
    proc = subprocess.run(
        [sys.executable, "-m", "fedshare", "demo", "--crypto-only", "--seed", "7"],
        capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "INTERIM DEMO" in out
    assert "2-of-3 consortium key" in out
    assert "encoded integers equal exactly: yes" in out
    assert "one holder alone is refused" in out and "tampered share is rejected" in out
    assert "PASS" in out and "What this proved" in out


def test_plain_fixed_point_path(monkeypatch, capsys):
    """Without libfedavg the demo encodes plainly; the check still holds."""
    monkeypatch.setattr(_demo_threshold, "_codec", lambda: _demo_threshold._PlainCodec(6))
    assert _demo_threshold.run(argparse.Namespace(seed=3)) == 0
    out = capsys.readouterr().out
    assert "plain fixed point" in out and "PASS" in out


def test_wrong_sum_fails_with_nonzero_exit(monkeypatch, capsys):
    """If the threshold-decrypted sum were wrong, the demo must say so and exit 1."""
    real = threshold.combine

    def off_by_one(params, ct, shares):
        return real(params, ct, shares) + 1

    monkeypatch.setattr(_demo_threshold, "_codec", lambda: _demo_threshold._PlainCodec(4))
    monkeypatch.setattr(_demo_threshold.threshold, "combine", off_by_one)
    assert _demo_threshold.run(argparse.Namespace(seed=3)) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "PASS" not in out


def test_refusal_that_did_not_happen_fails(monkeypatch, capsys):
    """A combine that accepted a single share would be a failed demo."""
    real = threshold.combine

    def lenient(params, ct, shares):
        if len(shares) < params.threshold:
            return 0
        return real(params, ct, shares)

    monkeypatch.setattr(_demo_threshold, "_codec", lambda: _demo_threshold._PlainCodec(2))
    monkeypatch.setattr(_demo_threshold.threshold, "combine", lenient)
    assert _demo_threshold.run(argparse.Namespace(seed=1)) == 1
    assert "REFUSAL FAILED" in capsys.readouterr().out
