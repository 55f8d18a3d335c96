"""The interim `fedshare demo`: threshold-Paillier secure aggregation.

Until the three-hospital demo (libfedshare) exists, this is the most complete
flow the built rooms allow:

1. a dealer ceremony makes a 2-of-3 consortium key from two fresh safe primes
   (public key + verification keys for everyone, one key share per holder,
   each share sealed at rest under its holder's passphrase and read back);
2. three parties each encode a real-valued vector as fixed-point integers
   (libfedavg's packing codec when ``fedshare.fedavg`` is built, otherwise a
   plain 2^20 fixed-point encoding written out below) and encrypt it under
   the consortium public key;
3. an aggregator adds the ciphertexts without decrypting anything;
4. holders 1 and 3 each publish a decryption share of every ciphertext of the
   sum, with a zero-knowledge proof; everyone verifies the proofs against
   the holders' verification keys;
5. the verified shares are combined into the plaintext sum, decoded, and
   compared with the sum of the plain vectors.

It also shows the two refusals that matter: one holder alone cannot decrypt,
and a tampered share is rejected by name. Exit status 0 only if every check
passed.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import List, Tuple

import numpy as np

from .. import errors
from ..phe import threshold

PARTIES = ("hospital-A", "hospital-B", "hospital-C")
KEY_BITS = 2048
T, L = 2, 3
DECRYPTING_HOLDERS = (1, 3)
DIM_PACKED = 256  # values per party with the libfedavg codec
DIM_PLAIN = 24  # values per party with the plain fixed-point fallback (one ciphertext each)
FRAC_BITS = 20  # plain fallback: x ↦ round(x · 2^20)


def _say(msg: str = "") -> None:
    print(msg, flush=True)


class _PlainCodec:
    """Fixed-point encoding done plainly: x ↦ round(x · 2^20) as one int64
    plaintext per value; negative values travel as n − |x| (libphe's rule)."""

    name = f"plain fixed point (x * 2^{FRAC_BITS}, one ciphertext per value)"

    def __init__(self, dim: int):
        self.dim = dim
        self.scale = float(2**FRAC_BITS)
        # rounding error of each input (≤ 2^-21) adds up over the three parties
        self.error_bound = len(PARTIES) * 0.5 / self.scale

    def encode(self, x: np.ndarray) -> List[int]:
        return [int(v) for v in np.rint(x.astype(np.float64) * self.scale).astype(np.int64)]

    def plain_sum(self, encoded: List[List[int]]) -> List[int]:
        return [sum(col) for col in zip(*encoded)]

    def decode_sum(self, ints: List[int]) -> np.ndarray:
        return np.array(ints, dtype=np.float64) / self.scale


class _FedavgCodec:
    """libfedavg's codec: quantize and pack many values into each plaintext."""

    def __init__(self, dim: int, fedavg):
        self.dim = dim
        # plaintexts below n/2 so they stay positive through libphe's n − x rule
        self.codec = fedavg.Codec(plaintext_bytes=(KEY_BITS - 2) // 8, max_weight=len(PARTIES),
                                  precision=1e-6, clip=1.0)
        self.name = (f"libfedavg packing ({self.codec.values_per_plaintext} values per "
                     f"plaintext, {self.codec.slot_bits}-bit slots, clip ±{self.codec.clip:g})")
        # unpack returns the mean; its error bound times the party count bounds the sum
        self.error_bound = self.codec.error_bound * len(PARTIES)

    def encode(self, x: np.ndarray) -> List[int]:
        return self.codec.to_ints(self.codec.pack(x.astype(np.float32), weight=1))

    def plain_sum(self, encoded: List[List[int]]) -> List[int]:
        return [sum(col) for col in zip(*encoded)]

    def decode_sum(self, ints: List[int]) -> np.ndarray:
        mean = self.codec.unpack(self.codec.from_ints(ints), self.dim, total_weight=len(PARTIES))
        return mean.astype(np.float64) * len(PARTIES)


def _codec():
    try:
        from .. import fedavg
    except ImportError:
        return _PlainCodec(DIM_PLAIN)
    return _FedavgCodec(DIM_PACKED, fedavg)


def _decrypt_all(params, shares, cts) -> Tuple[List[int], float]:
    """Holders 1 and 3 publish verified shares of each ciphertext; combine them."""
    t0 = time.monotonic()
    out = []
    for ct in cts:
        dshares = []
        for h in DECRYPTING_HOLDERS:
            # The share travels as bytes, as it would over the network.
            wire = shares[h - 1].decrypt_share(params, ct).to_bytes()
            ds = threshold.DecryptionShare.from_bytes(wire)
            threshold.verify(params, ct, ds)
            dshares.append(ds)
        out.append(threshold.combine(params, ct, dshares))
    return out, time.monotonic() - t0


def run(args: argparse.Namespace) -> int:
    seed = getattr(args, "seed", None)
    rng = np.random.default_rng(seed)
    codec = _codec()
    ok = True
    t_start = time.monotonic()

    _say("fedshare demo — INTERIM DEMO: threshold-Paillier secure aggregation.")
    _say("  (The three-hospital training demo arrives with libfedshare; this is the most")
    _say("   complete flow built so far: libphe" + (" + libfedavg" if isinstance(
        codec, _FedavgCodec) else "") + ".)")
    _say()

    # 1. dealer ceremony
    t0 = time.monotonic()
    params, shares = threshold.deal(bits=KEY_BITS, threshold=T, holders=L)
    t_deal = time.monotonic() - t0
    _say(f"[1] Dealer ceremony: {T}-of-{L} consortium key, {KEY_BITS}-bit n = p·q from two fresh "
         f"safe primes ({t_deal:.1f} s).")
    _say(f"    key id {params.key_id.hex()[:16]}…; public: n, v and verification keys "
         f"v_1..v_{L}.")
    with tempfile.TemporaryDirectory(prefix="fedshare-demo-") as tmp:
        reread = []
        for share in shares:
            path = os.path.join(tmp, f"holder{share.index}.phtf")
            pw = f"passphrase of holder {share.index}"
            share.write_file(path, pw)
            loaded = threshold.KeyShare.read_file(path, pw)
            loaded.check(params)  # v^(Δ·s_i) equals the published v_i
            reread.append(loaded)
        shares = reread
    _say("    each holder's key share written sealed (Argon2id + secretbox, mode 0600), read "
         "back and checked against its verification key.")

    # 2. parties encrypt
    pk = params.public_key
    vectors = [rng.uniform(-0.5, 0.5, codec.dim).astype(np.float32) for _ in PARTIES]
    t0 = time.monotonic()
    encoded = [codec.encode(v) for v in vectors]
    encrypted = [[pk.encrypt(m) for m in enc] for enc in encoded]
    t_enc = time.monotonic() - t0
    _say(f"[2] {len(PARTIES)} parties ({', '.join(PARTIES)}) each encrypt {codec.dim} real values")
    _say(f"    encoding: {codec.name};")
    _say(f"    {len(encoded[0])} ciphertexts per party, DJN encryption ({t_enc:.2f} s in all).")

    # 3. encrypted sum
    t0 = time.monotonic()
    enc_sum = [sum(col[1:], col[0]) for col in zip(*encrypted)]
    _say(f"[3] Aggregator adds the ciphertexts homomorphically: {len(enc_sum)} ciphertexts of the "
         f"sum ({time.monotonic() - t0:.3f} s); nothing was decrypted.")

    # 4 + 5. threshold decryption
    plain_ints, t_dec = _decrypt_all(params, shares, enc_sum)
    _say(f"[4] Holders {DECRYPTING_HOLDERS[0]} and {DECRYPTING_HOLDERS[1]} publish decryption "
         f"shares with zero-knowledge proofs; every proof verified against its holder's")
    _say(f"    verification key; shares combined by the Lagrange/Δ method ({t_dec:.2f} s).")

    expect_ints = codec.plain_sum(encoded)
    exact = plain_ints == expect_ints
    got = codec.decode_sum(plain_ints)
    want = np.sum(np.stack([v.astype(np.float64) for v in vectors]), axis=0)
    max_err = float(np.max(np.abs(got - want)))
    within = max_err <= codec.error_bound + 1e-12
    _say(f"[5] Check against the plain sum of the {len(PARTIES)} vectors:")
    _say(f"    encoded integers equal exactly: {'yes' if exact else 'NO'}; "
         f"max |decrypted − plain| = {max_err:.3g} (bound {codec.error_bound:.3g}): "
         f"{'within' if within else 'OUTSIDE'}.")
    _say(f"    first values  plain: {np.array2string(want[:4], precision=6)}")
    _say(f"                  decrypted: {np.array2string(got[:4], precision=6)}")
    ok = ok and exact and within

    # the refusals
    ct0 = enc_sum[0]
    lone = shares[1].decrypt_share(params, ct0)
    try:
        threshold.combine(params, ct0, [lone])
        _say("    REFUSAL FAILED: one holder alone decrypted")
        ok = False
    except errors.InvalidInputError as exc:
        refused_lone = exc.code == threshold.ERR_TOO_FEW_SHARES
        ok = ok and refused_lone
        _say(f"    one holder alone is refused: {exc}")
    good = shares[0].decrypt_share(params, ct0).to_bytes()
    forged = bytearray(good)
    forged[-1] ^= 1
    try:
        threshold.combine(params, ct0, [threshold.DecryptionShare.from_bytes(bytes(forged)),
                                        lone])
        _say("    REFUSAL FAILED: a tampered share was combined")
        ok = False
    except errors.VerificationError as exc:
        ok = ok and exc.code == threshold.ERR_PROOF_INVALID
        _say(f"    a tampered share is rejected: {exc}")

    total = time.monotonic() - t_start
    _say()
    if ok:
        _say(f"PASS ({total:.1f} s). What this proved: {len(PARTIES)} parties' vectors were summed "
             f"while encrypted under one consortium key;")
        _say(f"  only {T} of the {L} key holders together could decrypt, and only the sum; every "
             f"decryption share was proven correct before use;")
        _say("  the decrypted sum equals the plain sum (exactly in the encoded integers, within "
             "the codec's bound in real values).")
        _say("  Not shown yet: training, the ledger, access control (later demos).")
        return 0
    _say(f"FAIL ({total:.1f} s): the threshold-decrypted sum or a refusal did not check out.")
    return 1
