"""Shared by the tests that run a guide's code as written (the client guide,
the Flower guide): its python blocks, and a consortium in the current folder
laid out as the guides assume (four nodes, each member's seed file
"hospital-a.key" …, a 2-of-3 dealer that uses the checked-in primes)."""
import re
from pathlib import Path

import pytest

from fedshare.phe import threshold
from fedshare_cluster import MEMBERS, Consortium
from shared_fixtures import PRIME1, PRIME2


def python_blocks(path: Path):
    blocks = re.findall(r"^```python\n(.*?)^```$", path.read_text(), flags=re.S | re.M)
    assert blocks, f"no python blocks in {path}"
    return blocks


@pytest.fixture()
def consortium(tmp_path, monkeypatch):
    cons = Consortium(tmp_path, block_period_ms=10)
    # each member's seed file, named as in the guides ("hospital-a.key", ...)
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
