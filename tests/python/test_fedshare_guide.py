"""The Python snippets of docs/guides/fedshare-client.md, run verbatim and in
order as one script against four live `fedshare node` processes (the guide's
example consortium: three hospitals, a regulator, an aggregator), so that the
guide cannot drift from the API. Then checks of what the script produced.

The one substitution: the guide deals a fresh 2048-bit threshold key
(`threshold.deal(bits=2048, ...)`), whose safe-prime search takes minutes; the
test makes `deal` use the checked-in test primes (a 2048-bit modulus all the
same) when it is called without primes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from fedshare.phe import threshold

from fedshare_cluster import MEMBERS, Consortium
from test_phe_threshold import PRIME1, PRIME2

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "fedshare-client.md"


def python_blocks(path: Path):
    text = path.read_text()
    blocks = re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)
    assert blocks, f"no python blocks in {path}"
    return blocks


@pytest.fixture()
def consortium(tmp_path, monkeypatch):
    cons = Consortium(tmp_path, block_period_ms=10)
    # each member's seed file, named as in the guide ("hospital-a.key", ...)
    for (name, _, _), seed in zip(MEMBERS, cons.seeds):
        (tmp_path / f"{name}.key").write_text(seed.hex() + "\n")
    cons.start_all()
    monkeypatch.chdir(tmp_path)
    real_deal = threshold.deal

    def deal(bits=2048, threshold=2, holders=3, primes=None, seed=None):
        assert bits == 2048
        return real_deal(bits=bits, threshold=threshold, holders=holders,
                         primes=primes or (PRIME1, PRIME2), seed=seed)

    monkeypatch.setattr(threshold, "deal", deal)
    yield cons
    cons.close()


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
    # §9: the fetched model is the one whose digest the contract recorded
    assert out[5] == "True"
    assert ns["rounds"] == 2
    # §10: the trail of B's data set: registration, policy, grant, task, and
    # 2 rounds of acts on it (upload, aggregate, check, 2 shares, finalize, 3 evaluations)
    assert out[6] == f"{len(ns['trail'])} acts on hospital B's data set"
    assert len(ns["trail"]) >= 4 + 2 * 8
    heights = [h for h, _ in ns["trail"]]
    assert heights == sorted(heights)
    # §11: the refusal's code
    assert out[7] == "-508"
    # the shares the dealer wrote are sealed files, not plaintext keys
    for k in (1, 2, 3):
        sealed = Path(f"share-{k}.phtf").read_bytes()
        assert sealed[:4] == b"PHTF"
        assert threshold.KeyShare.read_file(f"share-{k}.phtf", f"passphrase of holder {k}").index == k


def test_guide_blocks_are_found():
    blocks = python_blocks(GUIDE)
    # connect, register, policy, access, key, model, task, round, fetch, trace, refusal
    assert len(blocks) == 11
