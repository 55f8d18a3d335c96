"""fedshare.phe: every homomorphic identity against Python integers on every
key size (property tests), numpy batch paths, serialization, errors."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fedshare
from fedshare import phe

SIZES = phe.KEY_SIZES
PROP = settings(max_examples=12, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="session", params=SIZES, ids=lambda b: f"{b}bit")
def key(request):
    # One key per size for the whole session (4096-bit generation takes seconds).
    return phe.generate_keypair(request.param,
                                seed=phe.insecure_seed(f"pytest-{request.param}".encode()))


@pytest.fixture(scope="session")
def key2048():
    return phe.generate_keypair(2048, seed=phe.insecure_seed(b"pytest-2048"))


def small_ints():
    return st.integers(min_value=-(2**62), max_value=2**62)


def plaintexts(n):
    return st.integers(min_value=-(n // 2) + 1, max_value=n // 2)


def centered(x, n):
    x %= n
    return x - n if x > n // 2 else x


# -- identities (each against Python ints, mod n, centered) -----------------

@PROP
@given(data=st.data())
def test_encrypt_decrypt_every_form(key, data):
    pk = key.public_key
    m = data.draw(plaintexts(pk.n))
    assert key.decrypt(pk.encrypt(m)) == m
    assert key.decrypt(pk.encrypt(m, mode="classic")) == m
    assert key.decrypt(key.encrypt(m)) == m
    pool = pk.pool(1)
    pool.fill()
    assert key.decrypt(pool.encrypt(m)) == m


@PROP
@given(data=st.data())
def test_add(key, data):
    pk, n = key.public_key, key.public_key.n
    a, b = data.draw(plaintexts(n)), data.draw(plaintexts(n))
    assert key.decrypt(pk.encrypt(a) + pk.encrypt(b)) == centered(a + b, n)


@PROP
@given(data=st.data())
def test_add_plain(key, data):
    pk, n = key.public_key, key.public_key.n
    a = data.draw(plaintexts(n))
    k = data.draw(st.one_of(small_ints(), plaintexts(n)))
    assert key.decrypt(pk.encrypt(a) + k) == centered(a + k, n)
    assert key.decrypt(k + pk.encrypt(a)) == centered(a + k, n)
    assert key.decrypt(pk.encrypt(a) - k) == centered(a - k, n)
    assert key.decrypt(k - pk.encrypt(a)) == centered(k - a, n)


@PROP
@given(data=st.data())
def test_scalar_multiply(key, data):
    pk, n = key.public_key, key.public_key.n
    a = data.draw(plaintexts(n))
    k = data.draw(st.one_of(small_ints(), plaintexts(n), st.sampled_from([0, 1, -1])))
    assert key.decrypt(pk.encrypt(a) * k) == centered(a * k, n)
    assert key.decrypt(k * pk.encrypt(a)) == centered(a * k, n)


@PROP
@given(data=st.data())
def test_negate_sub_rerandomize(key, data):
    pk, n = key.public_key, key.public_key.n
    a, b = data.draw(plaintexts(n)), data.draw(plaintexts(n))
    ca, cb = pk.encrypt(a), pk.encrypt(b)
    assert key.decrypt(-ca) == centered(-a, n)
    assert key.decrypt(ca - cb) == centered(a - b, n)
    r = ca.rerandomize()
    assert r != ca and key.decrypt(r) == a


@PROP
@given(xs=st.lists(st.integers(-(2**31), 2**31), min_size=1, max_size=20),
       ks=st.lists(st.integers(-(2**31), 2**31), min_size=20, max_size=20))
def test_batch_paths_match_python(key2048, xs, ks):
    pk = key2048.public_key
    arr = np.array(xs, dtype=np.int64)
    cts = pk.encrypt_array(arr)
    assert np.array_equal(key2048.decrypt_array(cts), arr)
    k = np.array(ks[: len(xs)], dtype=np.int64)
    prod = key2048.decrypt_array(cts.mul(k))
    assert prod.tolist() == [centered(x * y, pk.n) for x, y in zip(xs, k.tolist())]
    doubled = key2048.decrypt_array(cts + cts)
    assert doubled.tolist() == [2 * x for x in xs]
    assert key2048.decrypt(cts.sum()) == sum(xs)


def test_batch_threads_and_seed_do_not_change_results(key2048):
    pk = key2048.public_key
    arr = np.arange(-50, 50, dtype=np.int64).reshape(10, 10)
    one, many = phe.Context(1), phe.Context(4)
    assert one.threads == 1 and many.threads == 4
    a = pk.encrypt_array(arr, ctx=one, seed=phe.insecure_seed(b"s"))
    b = pk.encrypt_array(arr, ctx=many, seed=phe.insecure_seed(b"s"))
    assert [c.to_bytes() for c in a] == [c.to_bytes() for c in b]
    c = pk.encrypt_array(arr, ctx=many, seed=phe.insecure_seed(b"t"))
    assert a[0] != c[0]
    many.threads = 2
    assert many.threads == 2
    assert np.array_equal(key2048.decrypt_array(a, ctx=many), arr.reshape(-1))


def test_decrypt_array_out_of_int64_range(key2048):
    pk = key2048.public_key
    cts = phe.CiphertextArray.from_list([pk.encrypt(1), pk.encrypt(2**70)])
    with pytest.raises(fedshare.InvalidInputError, match="out of range"):
        key2048.decrypt_array(cts)


# -- serialization -------------------------------------------------------------

def test_roundtrips_are_canonical(key):
    pk = key.public_key
    pkb = pk.to_bytes()
    assert pkb[:5] == b"PHEP\x01"
    pk2 = phe.PublicKey.from_bytes(pkb)
    assert pk2 == pk and pk2.to_bytes() == pkb
    skb = key.to_bytes()
    sk2 = phe.SecretKey.from_bytes(skb)
    assert sk2.to_bytes() == skb and sk2.public_key == pk
    c = pk.encrypt(-12345)
    cb = c.to_bytes()
    c2 = phe.Ciphertext.from_bytes(pk2, cb)
    assert c2 == c and c2.to_bytes() == cb and sk2.decrypt(c2) == -12345
    assert phe.Ciphertext.from_int(pk, c.to_int()) == c


def test_decoders_reject_bad_input(key2048):
    pk = key2048.public_key
    good = pk.to_bytes()
    for bad in (b"", good[:-1], good + b"\0", b"XXXX" + good[4:], good[:4] + b"\x02" + good[5:]):
        with pytest.raises(fedshare.InvalidInputError):
            phe.PublicKey.from_bytes(bad)
    cb = pk.encrypt(1).to_bytes()
    for bad in (cb[:-1], cb + b"\0"):
        with pytest.raises(fedshare.InvalidInputError):
            phe.Ciphertext.from_bytes(pk, bad)
    with pytest.raises(fedshare.InvalidInputError, match="different keys"):
        other = phe.PublicKey.from_n(_other_n(), seed=phe.insecure_seed(b"x"))
        phe.Ciphertext.from_bytes(other, cb)
    for v in (0, pk.n ** 2, pk.n ** 2 + 1, pk.n):
        with pytest.raises(fedshare.InvalidInputError):
            phe.Ciphertext.from_int(pk, v)


_OTHER = {}


def _other_n():
    if "k" not in _OTHER:
        _OTHER["k"] = phe.generate_keypair(2048, seed=phe.insecure_seed(b"other"))
    return _OTHER["k"].public_key.n


def test_seal_and_files(key2048, tmp_path):
    sealed = key2048.seal(b"correct horse", strength="test-only-min")
    assert sealed[:5] == b"PHEF\x02"
    assert phe.SecretKey.unseal(sealed, b"correct horse").to_bytes() == key2048.to_bytes()
    with pytest.raises(fedshare.VerificationError):
        phe.SecretKey.unseal(sealed, b"wrong")
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(fedshare.VerificationError):
        phe.SecretKey.unseal(bytes(tampered), b"correct horse")
    path = tmp_path / "key.phef"
    key2048.write_file(path, "pw", strength="test-only-min")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert phe.SecretKey.read_file(path, "pw").public_key == key2048.public_key
    with pytest.raises(fedshare.IOFailureError):
        phe.SecretKey.read_file(tmp_path / "missing", "pw")


def test_errors_are_clear(key2048):
    pk = key2048.public_key
    with pytest.raises(fedshare.InvalidInputError, match="key size"):
        phe.generate_keypair(1024)
    with pytest.raises(fedshare.InvalidInputError, match="out of range"):
        pk.encrypt(pk.n)
    with pytest.raises(fedshare.InvalidInputError):
        pk.encrypt(1.5)
    with pytest.raises(TypeError):
        pk.encrypt(1) * 1.5
    other = phe.PublicKey.from_n(_other_n())
    with pytest.raises(fedshare.InvalidInputError, match="different keys"):
        pk.encrypt(1) + other.encrypt(1)
    e = pytest.raises(fedshare.InvalidInputError, phe.PublicKey.from_n, 2**2048 + 2).value
    assert e.code == phe.lib.PHE_ERR_KEY_INVALID and e.library == "phe"  # even
    e = pytest.raises(fedshare.InvalidInputError, phe.PublicKey.from_n, 4).value
    assert e.code == phe.lib.PHE_ERR_KEY_SIZE and e.library == "phe"  # too small comes first
    assert "at least 2048 bits" in str(e) and "has 3 bits" in str(e)


def test_packed_rows_roundtrip(key2048):
    pk = key2048.public_key
    rows = np.random.default_rng(3).integers(0, 256, size=(7, 200), dtype=np.uint8)
    cts = pk.encrypt_packed(rows)
    assert len(cts) == 7
    back = key2048.decrypt_packed(cts, 200)
    assert np.array_equal(back, rows)
    assert np.array_equal(key2048.decrypt_packed(pk.encrypt_packed(rows.tobytes(), 200), 200), rows)
    # sums of packed rows are the integer sums of the rows
    s = key2048.decrypt_packed(phe.CiphertextArray.from_list([(cts + cts)[0]]), 201)
    assert int.from_bytes(s.tobytes(), "big") == 2 * int.from_bytes(rows[0].tobytes(), "big")
    with pytest.raises(fedshare.InvalidInputError, match="whole number"):
        pk.encrypt_packed(rows.tobytes()[:-1], 200)
    with pytest.raises(fedshare.InvalidInputError, match="too wide"):
        pk.encrypt_packed(np.full((1, 256), 255, dtype=np.uint8))


def test_packed_layout_must_fit_below_n(key2048):
    pk = key2048.public_key
    assert pk.bits == 2048 and pk.plaintext_size == 256
    # 256-byte rows could reach n: refused even when every value is small
    with pytest.raises(fedshare.InvalidInputError, match="too wide"):
        pk.encrypt_packed(np.zeros((2, 256), dtype=np.uint8))
    # the C layer refuses it too (the Python check is only the clearer message)
    rows = np.zeros(2 * 256, dtype=np.uint8)
    cts = phe.CiphertextArray._alloc(pk, 2)
    rc = phe.lib.phe_encrypt_bytes_batch(phe.default_context()._ptr, pk._ptr, cts._arr,
                                         phe.ffi.from_buffer(rows), 256, 256, 2, phe.ffi.NULL)
    assert rc == phe.lib.PHE_ERR_PLAINTEXT_RANGE
    # 255-byte rows fit; the sum of two all-ones rows overflows 255 bytes and
    # decrypt_packed says so instead of truncating
    ones = np.full((1, 255), 255, dtype=np.uint8)
    c = pk.encrypt_packed(ones)
    assert np.array_equal(key2048.decrypt_packed(c, 255), ones)
    with pytest.raises(fedshare.InvalidInputError, match="does not fit"):
        key2048.decrypt_packed(c + c, 255)
    two = key2048.decrypt_packed(c + c, 256)
    assert int.from_bytes(two.tobytes(), "big") == 2 * (2 ** (8 * 255) - 1)


def test_decrypt_bytes_size_does_not_depend_on_plaintext(key2048):
    pk = key2048.public_key
    size = pk.plaintext_size
    for m in (0, 5, pk.n - 1):
        c = pk.encrypt(m if m < pk.n // 2 else m - pk.n)
        buf = phe.ffi.new("uint8_t[]", size)
        assert phe.lib.phe_decrypt_bytes(key2048._ptr, c._ptr, buf, size - 1) == \
            phe.lib.PHE_ERR_BUFFER_TOO_SMALL
        assert phe.lib.phe_decrypt_bytes(key2048._ptr, c._ptr, buf, size) == 0
        assert int.from_bytes(bytes(phe.ffi.buffer(buf, size)), "big") == m


def test_seeds_need_insecure_seed():
    # a plain seed is refused, so reproducible randomness cannot be used by accident
    for bad in (b"seed", "seed", bytes(32), 7):
        with pytest.raises(fedshare.InvalidInputError, match="tests only"):
            phe.generate_keypair(2048, seed=bad)
    sk = phe.generate_keypair(2048, seed=phe.insecure_seed(b"explicit"))
    pk = sk.public_key
    with pytest.raises(fedshare.InvalidInputError, match="tests only"):
        pk.encrypt(1, seed=b"x")
    with pytest.raises(fedshare.InvalidInputError, match="tests only"):
        pk.encrypt_array(np.arange(3), seed=b"x")
    with pytest.raises(fedshare.InvalidInputError, match="tests only"):
        pk.encrypt(1).rerandomize(seed=b"x")
    from fedshare.phe import threshold
    with pytest.raises(fedshare.InvalidInputError, match="tests only"):
        threshold.safe_prime(256, seed=b"x")
    # the explicit form is reproducible, and the default draws fresh randomness
    s = phe.insecure_seed("e")
    assert "tests only" in repr(s)
    assert pk.encrypt(9, seed=s) == pk.encrypt(9, seed=phe.insecure_seed(b"e"))
    assert pk.encrypt(9) != pk.encrypt(9)
    assert phe.generate_keypair(2048, seed=phe.insecure_seed(b"explicit")).public_key == pk
    with pytest.raises(fedshare.InvalidInputError):
        phe.insecure_seed(123)


def test_sealed_kdf_limits(key2048):
    blob = bytearray(key2048.seal(b"pw", strength="test-only-min"))
    assert phe.SecretKey.unseal(bytes(blob), b"pw").public_key == key2048.public_key
    # a file asking for 1 GiB of Argon2id memory (libsodium's SENSITIVE) is
    # refused before anything is allocated
    blob[13:21] = (1 << 30).to_bytes(8, "big")
    e = pytest.raises(fedshare.InvalidInputError, phe.SecretKey.unseal, bytes(blob), b"pw").value
    assert e.code == phe.lib.PHE_ERR_KDF_LIMIT
    assert "Argon2id" in str(e)


def test_fedavg_packing_through_phe(key2048):
    fedavg = pytest.importorskip("fedshare.fedavg")
    pk = key2048.public_key
    codec = fedavg.Codec(plaintext_bytes=(pk.n.bit_length() - 1) // 8)
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal(300).astype(np.float32) * 0.1 for _ in range(3)]
    enc = [pk.encrypt_packed(codec.pack(x)) for x in xs]
    total = enc[0] + enc[1] + enc[2]
    rows = key2048.decrypt_packed(total, codec.plaintext_bytes)
    mean = codec.unpack(rows, 300, total_weight=3)
    assert np.max(np.abs(mean - sum(xs) / 3)) <= codec.error_bound
