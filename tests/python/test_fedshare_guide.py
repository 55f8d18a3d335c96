"""The guides of libfedshare, run as written so that they cannot drift from the code.

- docs/guides/fedshare-client.md: its Python snippets, verbatim and in order,
  as one script against four live `fedshare node` processes (the guide's
  example consortium: three hospitals, a regulator, an aggregator); then checks
  of what the script printed and made. (Its C snippets are compiled against
  the staged install by tests/integration/run_cpp_round.sh.)
- docs/guides/fedshare-node.md: keygen.py and the one-machine session of §7
  (two `fedshare-node`, two `fedshare node`, stop, restart, verify-chain).

The one substitution: the guide deals a fresh 2048-bit threshold key
(`threshold.deal(bits=2048, ...)`), whose safe-prime search takes minutes; the
test makes `deal` use the checked-in test primes (a 2048-bit modulus all the
same) when it is called without primes."""
from __future__ import annotations

import re
from pathlib import Path

from fedshare.phe import threshold

from guide_fixtures import python_blocks

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "fedshare-client.md"


def test_client_guide_runs(consortium, capsys):
    ns: dict = {"__name__": "guide"}
    for i, block in enumerate(python_blocks(GUIDE)):
        code = compile(block, f"{GUIDE.name}[python block {i + 1}]", "exec")
        exec(code, ns)  # noqa: S102 - the guide's own snippets
    out = capsys.readouterr().out.splitlines()

    # §1: the member's DID
    assert out[0].startswith("did:key:z6Mk")
    # §4: the denial, then the two permits with their rules and obligations
    assert out[1] == "denied: deny marketing"
    assert out[2:4] == ["['hospitals_train'] ['no_export']"] * 2
    # §8: two rounds, all weight accepted, the task done at its round limit
    assert out[4] == "400 6"
    # §8, members apart: waiting for a phase of a finished task ends at once
    assert out[5] == "done"
    # §9: the fetched model is the one whose digest the contract recorded
    assert out[6] == "True"
    assert ns["rounds"] == 2
    # §10: the trail of B's data set: registration, policy, grant, task, and
    # 2 rounds of acts on it (upload, aggregate, check, 2 shares, finalize, 3 evaluations)
    assert out[7] == f"{len(ns['trail'])} acts on hospital B's data set"
    assert len(ns["trail"]) >= 4 + 2 * 8
    heights = [h for h, _ in ns["trail"]]
    assert heights == sorted(heights)
    # §11: the refusal's code
    assert out[8] == "-508"
    # the shares the dealer wrote are sealed files, not plaintext keys
    for k in (1, 2, 3):
        sealed = Path(f"share-{k}.phtf").read_bytes()
        assert sealed[:4] == b"PHTF"
        share = threshold.KeyShare.read_file(f"share-{k}.phtf", f"passphrase of holder {k}")
        assert share.index == k


def test_guide_blocks_are_found():
    blocks = python_blocks(GUIDE)
    # connect, reads, register, policy, access, key, model, task, round, wait, fetch, trace,
    # refusal
    assert len(blocks) == 13


# --- docs/guides/fedshare-node.md -----------------------------------------------

NODE_GUIDE = GUIDE.parent / "fedshare-node.md"
REPO = GUIDE.parents[2]


def blocks_of(path: Path, lang: str):
    return re.findall(rf"^```{lang}\n(.*?)^```$", path.read_text(), flags=re.S | re.M)


def node_program() -> str:
    """The C node program of this tree: $FEDSHARE_NODE, or the one `make build`
    or `make python` built."""
    import os

    for cand in (os.environ.get("FEDSHARE_NODE"), REPO / "build/libfedshare/fedshare-node",
                 REPO / "build-py/libfedshare/fedshare-node"):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return str(cand)
    raise AssertionError("no fedshare-node program: run `make build` (or set FEDSHARE_NODE)")


def free_block(n: int) -> int:
    """A base port b (below the kernel's ephemeral range) with b … b+n−1 free."""
    import random
    import socket

    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 30000)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port block")


CURL_SHIM = """#!{python}
# `curl -s URL` for machines without curl (the guide's commands only).
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[-1], timeout=10).read().decode())
"""


def test_node_guide_session(tmp_path):
    """§7 of the node guide, as written: keygen.py (§1) and the bash session."""
    import os
    import shutil
    import signal
    import subprocess
    import sys

    py_blocks, sh_blocks = blocks_of(NODE_GUIDE, "python"), blocks_of(NODE_GUIDE, "sh")
    # the first python block is §1's keygen.py (§7's NodeProcess example is
    # exercised by test_node_process.py)
    assert py_blocks and py_blocks[0].startswith("# keygen.py FILE")
    (tmp_path / "keygen.py").write_text(py_blocks[0])
    session = sh_blocks[-1]
    assert session.startswith("P=${P:-7100}")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(node_program(), bindir / "fedshare-node")
    if not shutil.which("curl"):
        (bindir / "curl").write_text(CURL_SHIM.format(python=sys.executable))
        (bindir / "curl").chmod(0o755)
    env = dict(os.environ, P=str(free_block(4)), M=str(free_block(4)),
               PATH=f"{bindir}:{Path(sys.executable).parent}:{os.environ['PATH']}")
    p = subprocess.Popen(["bash", "-e", "-c", session], cwd=tmp_path, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=240)
    finally:
        try:  # nothing the session started outlives the test
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert p.returncode == 0, f"session failed:\n{out}\n{err}"
    lines = out.splitlines()
    ready = [x for x in lines if x.startswith("ready ")]
    m = int(env["M"])
    # two C nodes (their id from their file: -1), two Python ones, the restart
    assert ready == [f"ready -1 {m} 0", f"ready -1 {m + 1} 0", f"ready 2 {m + 2} 0",
                     f"ready 3 {m + 3} 0", f"ready -1 {m} 0"]
    assert "ok" in lines and "fedshare_peers 3" in lines
    assert lines.count("node 0 exit status 0") == 2
    for i in (1, 2, 3):
        assert f"node {i} exit status 0" in lines
    verified = [x for x in lines if "every block verifies" in x]
    assert [x.split(":")[0] for x in verified] == ["data0", "data1", "data2", "data3"]
