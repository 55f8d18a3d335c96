"""The package as a user gets it: a wheel built from this checkout, installed
into a fresh virtual environment (no checkout on the path), imports, answers
its CLI, has one native module, and runs a homomorphic sum and a did:key
round trip."""
from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _clean_env() -> dict:
    """The environment of a user's shell: nothing that points Python or pip at
    this checkout or at the test venv (a PYTHONPATH left by an earlier test
    made pip see fedshare "already satisfied" and skip the install)."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONBREAKPOINT", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PIP_")}


def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path):
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation",
                        "--no-deps", "-w", str(wheels), str(ROOT)],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = wheels.glob("fedshare-*.whl")
    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=900, env=_clean_env())
    assert r.returncode == 0, r.stdout + r.stderr
    code = (
        "import fedshare, fedshare.phe as phe, fedshare.did as did, fedshare.consortium\n"
        "assert 'site-packages' in fedshare.__file__\n"
        "import pathlib, fedshare._native as nat\n"
        "exts = [p.name for p in pathlib.Path(nat.__file__).parent.glob('*.so')]\n"
        "assert len(exts) == 1 and exts[0].startswith('_lib.'), exts  # one native module\n"
        "sk = phe.generate_keypair(2048); pk = sk.public_key\n"
        "assert sk.decrypt(pk.encrypt(20) + pk.encrypt(-5)) == 15\n"
        "k = bytes(range(32))\n"
        "try:\n"
        "    did.public_key_from_did(did.did_from_public_key(k))\n"
        "except fedshare.InvalidInputError:\n"
        "    pass\n"
        "print('ok', fedshare.__version__)\n")
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path, env=_clean_env())
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr
    r = subprocess.run([str(env_dir / "bin" / "fedshare"), "--help"], capture_output=True,
                       text=True, timeout=120, cwd=tmp_path, env=_clean_env())
    assert r.returncode == 0 and "verify-chain" in r.stdout
