"""benchmarks/run --suite phe: libphe (C programs) against python-paillier.

Runs build/benchmarks/phe/bench_phe (every libphe figure, 2048 and 3072-bit,
one core and all cores), bench_threshold when it is built, python-paillier
(with gmpy2) in a separate process in the same run, and libfedavg packing +
libphe encryption through the Python bindings when both are importable.

Ratios against python-paillier are taken pair by pair: python-paillier and
libphe are measured alternately, twice, and the ratio is the mean of the two
pairs, so a drift of this shared machine's speed hits both sides alike.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

# Runs in a fresh interpreter that never imports fedshare, so libphe's GMP
# memory functions do not touch python-paillier's measurement (gmpy2 bundles
# its own GMP anyway).
_PP_SCRIPT = r"""
import json, sys, time
import gmpy2  # python-paillier's fastest configuration: fail loudly without it
from phe import paillier
bits, seconds, ops = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(",")
pk, sk = paillier.generate_paillier_keypair(n_length=bits)
c = pk.encrypt(123456789)
d = pk.encrypt(-987654321)
def rate(f):
    n, t0 = 0, time.process_time()
    while True:
        f(); n += 1
        el = time.process_time() - t0
        if el >= seconds and n >= 3:
            return n / el, n
fns = {"encrypt": lambda: pk.encrypt(123456789),
       "decrypt": lambda: sk.decrypt(c),
       "add": lambda: c + d}
for op in ops:
    r, n = rate(fns[op])
    print(json.dumps({"op": op, "rate": r, "samples": n, "gmpy2": gmpy2.version()}))
"""


# Intel's libcrypto_mb (PyPI wheels ipp-crypto + intel-cmplr-lib-rt in the
# venv), a reference only, like python-paillier: mbx_exp_mb8 through ctypes,
# 8 lanes per call, 4096-bit modulus and exponent, process CPU time. Never a
# dependency of libphe. Runs in its own interpreter (the wheels' runtime
# libraries are found through LD_LIBRARY_PATH set for that child only).
_CMB_SCRIPT = r"""
import ctypes, json, random, sys, time
bits, ebits, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
lib = ctypes.CDLL("libcrypto_mb.so")
u64p = ctypes.POINTER(ctypes.c_uint64)
Arr8 = u64p * 8
lib.mbx_exp_BufferSize.restype = ctypes.c_int
lib.mbx_exp_BufferSize.argtypes = [ctypes.c_int]
lib.mbx_exp_mb8.restype = ctypes.c_uint64  # mbx_status: 0 = every lane OK
lib.mbx_exp_mb8.argtypes = [Arr8, Arr8, Arr8, ctypes.c_int, Arr8, ctypes.c_int,
                            ctypes.c_void_p, ctypes.c_int]
words = (bits + 63) // 64
rnd = random.Random(4096)
def limbs(x, n):
    return (ctypes.c_uint64 * n)(*[(x >> (64 * i)) & (2**64 - 1) for i in range(n)])
m = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
bs = [rnd.randrange(m) for _ in range(8)]
es = [rnd.getrandbits(ebits) | (1 << (ebits - 1)) for _ in range(8)]
mod_a = limbs(m, words)
base_a = [limbs(b, words) for b in bs]
exp_a = [limbs(e, (ebits + 63) // 64) for e in es]
out_a = [(ctypes.c_uint64 * words)() for _ in range(8)]
cast = lambda a: ctypes.cast(a, u64p)
outs, bases = Arr8(*map(cast, out_a)), Arr8(*map(cast, base_a))
exps, mods = Arr8(*map(cast, exp_a)), Arr8(*[cast(mod_a)] * 8)
blen = lib.mbx_exp_BufferSize(bits)
buf = ctypes.create_string_buffer(blen)
def call():
    st = lib.mbx_exp_mb8(outs, bases, exps, ebits, mods, bits, buf, blen)
    if st != 0:
        raise SystemExit(f"mbx_exp_mb8 status {st:#x}")
call()
for i in range(8):
    got = sum(v << (64 * k) for k, v in enumerate(out_a[i]))
    if got != pow(bs[i], es[i], m):
        raise SystemExit(f"mbx_exp_mb8 lane {i} differs from pow()")
n, t0 = 0, time.process_time()
while True:
    call(); n += 1
    el = time.process_time() - t0
    if el >= seconds and n >= 3:
        break
ver = ""
try:
    lib.mbx_getversion.restype = ctypes.c_void_p
    v = lib.mbx_getversion()
    # struct { int major, minor, revision; const char *name, *buildDate, *strVersion; }
    ver = ctypes.cast(ctypes.c_void_p(ctypes.cast(v + 32, ctypes.POINTER(ctypes.c_void_p))[0]),
                      ctypes.c_char_p).value.decode() if v else ""
except Exception:
    pass
print(json.dumps({"rate": 8 * n / el, "samples": 8 * n, "version": ver}))
"""


def _crypto_mb_libdir():
    """The venv's lib directory when it holds libcrypto_mb (the ipp-crypto wheel)."""
    from pathlib import Path
    d = Path(sys.prefix) / "lib"
    return d if (d / "libcrypto_mb.so").exists() else None


def _crypto_mb(bits: int, ebits: int, seconds: float):
    d = _crypto_mb_libdir()
    if d is None:
        return None
    env = dict(os.environ)
    old = env.get("LD_LIBRARY_PATH")
    env["LD_LIBRARY_PATH"] = str(d) + (":" + old if old else "")
    out = subprocess.run([sys.executable, "-c", _CMB_SCRIPT, str(bits), str(ebits), str(seconds)],
                         capture_output=True, text=True, check=True, timeout=3600, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _modexp_vs_crypto_mb(ctx) -> None:
    """modexp_4096_vs_crypto_mb: ours ÷ libcrypto_mb, alternately, twice."""
    if _crypto_mb_libdir() is None:
        ctx.emit("modexp_4096_vs_crypto_mb", None, "ratio",
                 note="libcrypto_mb not installed in the venv (pip install ipp-crypto "
                      "intel-cmplr-lib-rt: reference only)")
        return
    sec = 0.5 if ctx.quick else 3.0
    pairs, ref, ours_rate = [], None, None
    for _ in range(1 if ctx.quick else 2):
        ref = _crypto_mb(4096, 4096, sec)
        recs = ctx.run_c("benchmarks/phe/bench_phe", "--only", "modexp_4096_vs_gmp_powm_sec")
        ours = {r["name"]: r for r in recs}.get("ifma_mb8_powm_per_s")
        if ours is None or ref is None:
            ctx.emit("modexp_4096_vs_crypto_mb", None, "ratio", note="no IFMA kernel here")
            return
        ours_rate = ours["value"]
        pairs.append(ours_rate / ref["rate"])
    ctx.emit("crypto_mb_powm_per_s", ref["rate"], "1/s", bits=4096, exp_bits=4096, threads=1,
             samples=ref["samples"], version=ref["version"])
    ctx.emit("modexp_4096_vs_crypto_mb", sum(pairs) / len(pairs), "ratio", bits=4096,
             exp_bits=4096, threads=1, pairs=pairs, ms_per_exp=1e3 / ours_rate,
             crypto_mb_ms_per_exp=1e3 / ref["rate"])


def _python_paillier(bits: int, seconds: float, ops: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _PP_SCRIPT, str(bits), str(seconds), ",".join(ops)],
                         capture_output=True, text=True, check=True, timeout=3600)
    res = {}
    for line in out.stdout.splitlines():
        rec = json.loads(line)
        res[rec["op"]] = rec
    return res


def _ours(ctx, bits: int, only: str) -> dict:
    recs = ctx.run_c("benchmarks/phe/bench_phe", "--bits", str(bits), "--only", only)
    return {r["name"]: r for r in recs}


def _packed(ctx) -> None:
    """Float values per second per core through libfedavg packing + libphe encryption."""
    try:
        import numpy as np

        from fedshare import fedavg, phe
    except ImportError as exc:
        ctx.emit("packed_values_encrypted_per_s", None, "values/s",
                 note=f"libfedavg is not built or not importable ({exc})")
        return
    sk = phe.generate_keypair(2048)
    pk = sk.public_key
    pt_bytes = (pk.n.bit_length() - 1) // 8
    # The codec a task uses by default (`fedshare task create`: dense bit
    # slots, precision 1e-5, clip 1) for the scale suite's consortium: 3
    # members whose data-size weights reach 100. The byte-slot codec (FAPR v1)
    # is timed beside it as a secondary figure.
    codec = fedavg.Codec.for_participants(3, weight=100, plaintext_bytes=pt_bytes)
    byte_codec = fedavg.Codec(plaintext_bytes=pt_bytes)
    n = 20_000 if ctx.quick else 200_000
    x = np.random.default_rng(1).standard_normal(n).astype(np.float32) * 0.1
    one = phe.Context(1)
    pk.encrypt_packed(codec.pack(x[:1000]), codec.plaintext_bytes, ctx=one)  # builds the DJN table

    def timed(c):
        # "Per core": one thread, timed in process CPU seconds like every other
        # one-core figure here (the machine is shared); wall time is reported too.
        w0, t0 = time.perf_counter(), time.process_time()
        packed = c.pack(x)
        t_pack = time.process_time() - t0
        cts = pk.encrypt_packed(packed, c.plaintext_bytes, ctx=one)
        return len(cts), t_pack, time.process_time() - t0, time.perf_counter() - w0

    b_cts, _, b_el, _ = timed(byte_codec)
    cts, t_pack, el, wall = timed(codec)
    ctx.emit("packed_values_encrypted_per_s", n / el, "values/s", bits=2048, threads=1,
             codec="dense (task default, 3 members, weight 100)",
             values_per_plaintext=codec.values_per_plaintext, plaintexts=cts,
             pack_cpu_seconds=t_pack, cpu_seconds=el, wall_seconds=wall,
             wall_values_per_s=n / wall,
             byte_slots_values_per_s=n / b_el,
             byte_slots_values_per_plaintext=byte_codec.values_per_plaintext,
             byte_slots_plaintexts=b_cts)


def run(ctx) -> None:
    sec = 0.3 if ctx.quick else 2.0
    sizes = [2048] if ctx.quick else [2048, 3072]
    # Every libphe figure, both sizes (JSON lines pass through).
    for bits in sizes:
        ctx.run_c("benchmarks/phe/bench_phe", "--bits", str(bits))
    # python-paillier vs libphe, alternately, at each size.
    for bits in sizes:
        enc, dec, add = [], [], []
        pp_last = None
        for _ in range(1 if ctx.quick else 2):
            pp = _python_paillier(bits, sec, ["encrypt", "decrypt", "add"])
            ours = _ours(ctx, bits, "encrypt_djn_per_s,decrypt_per_s,add_per_s")
            enc.append(ours["encrypt_djn_per_s"]["value"] / pp["encrypt"]["rate"])
            dec.append(ours["decrypt_per_s"]["value"] / pp["decrypt"]["rate"])
            add.append(ours["add_per_s"]["value"] / pp["add"]["rate"])
            pp_last = pp
        for op in ("encrypt", "decrypt", "add"):
            ctx.emit(f"python_paillier_{op}_per_s", pp_last[op]["rate"], "1/s", bits=bits,
                     threads=1, samples=pp_last[op]["samples"], gmpy2=pp_last[op]["gmpy2"])
        suffix = "" if bits == 2048 else f"_{bits}"
        ctx.emit("encrypt_speedup_vs_python_paillier" + suffix, sum(enc) / len(enc), "ratio",
                 bits=bits, pairs=enc)
        ctx.emit("decrypt_speedup_vs_python_paillier" + suffix, sum(dec) / len(dec), "ratio",
                 bits=bits, pairs=dec)
        ctx.emit("add_speedup_vs_python_paillier" + suffix, sum(add) / len(add), "ratio",
                 bits=bits, pairs=add)
    # Threshold benchmarks when built: batches of 1,000 with one proof per holder
    # (threshold_decshare_per_s_2048, the contract key), batch verify/combine,
    # and single shares.
    thr = ctx.build_dir / "benchmarks/phe/bench_threshold"
    if thr.exists():
        ctx.run_c("benchmarks/phe/bench_threshold")
    _modexp_vs_crypto_mb(ctx)
    _packed(ctx)
