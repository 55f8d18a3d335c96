"""One source for return codes (issue 17, item 3).

Every code of every public header is in its library's table (lib*/codes.tsv),
has the table's message from the C ``*_strerror``, and becomes the exception of
its kind in every module that can meet it. The tables are read through the
generated :mod:`fedshare._codes`; the headers are read from the source tree.
"""
import json
import re
from pathlib import Path

import pytest

from fedshare import _codes, abac, consortium, errors, fedavg, ledger, phe
from fedshare._native import make_checker

ROOT = Path(__file__).resolve().parents[2]
LIBS = ("libphe", "libledger", "libfedavg", "libabac", "libfedshare")
ENUM_MEMBER = re.compile(
    r"^\s*((?:PHE|LEDGER|FEDAVG|ABAC|FEDSHARE)_(?:E|ERR)_[A-Z0-9_]+)\s*=\s*(-\d+)", re.M)
ALIAS = re.compile(r"^#define\s+((?:PHE|LEDGER|FEDAVG|ABAC|FEDSHARE)_(?:E|ERR)_[A-Z0-9_]+)\s+"
                   r"((?:PHE|LEDGER|FEDAVG|ABAC|FEDSHARE)_(?:E|ERR)_[A-Z0-9_]+)\b", re.M)


def _headers():
    for lib in LIBS:
        yield from sorted((ROOT / lib / "include").rglob("*.h"))


def _header_codes():
    found = {}
    for h in _headers():
        for name, value in ENUM_MEMBER.findall(h.read_text(encoding="utf-8")):
            found[name] = int(value)
    return found


HEADER_CODES = _header_codes()
MODULES = {"phe": phe, "ledger": ledger, "fedavg": fedavg, "abac": abac, "fedshare": consortium}


def _strerror(library, rc):
    mod = MODULES[library]
    return mod.ffi.string(getattr(mod.lib, f"{library}_strerror")(rc)).decode()


def test_the_headers_declare_codes_of_every_library():
    prefixes = {name.split("_")[0] for name in HEADER_CODES}
    assert prefixes == {"PHE", "LEDGER", "FEDAVG", "ABAC", "FEDSHARE"}
    assert len(HEADER_CODES) >= 100


def test_every_header_code_is_in_the_table_and_every_table_code_in_a_header():
    table = {c.name: c.value for c in _codes.CODES.values()}
    assert HEADER_CODES == table


@pytest.mark.parametrize("value", sorted(_codes.CODES), ids=lambda v: _codes.CODES[v].name)
def test_each_code_has_its_message_and_its_kind_everywhere(value):
    code = _codes.CODES[value]
    lo, hi = _codes.RANGES[code.library]
    assert lo <= value <= hi
    text = _strerror(code.library, value)
    assert text == code.message and text
    # not the fallback text of a code the library does not know (−x99 is unused)
    assert lo not in _codes.CODES and text != _strerror(code.library, lo)
    # libfedshare names every code it may pass on with the library's own text
    assert _strerror("fedshare", value) == text
    cls = errors.BY_KIND[code.kind]
    for library in {code.library, "fedshare"}:
        with pytest.raises(errors.Error) as info:
            MODULES[library].check(value)
        assert type(info.value) is cls, (library, code.name)
        assert info.value.code == value and f"{text} ({value})" in str(info.value)


# What a code's name says fixes its kind; the table may not say otherwise.
# Patterns match the whole name after the library's prefix (PHE_ERR_, LEDGER_E_ …).
NAME_KINDS = [
    (r"NOMEM", "resource"),
    (r"IO", "io"),
    (r"NOT_FOUND", "notfound"),
    (r"TIMEOUT", "timeout"),
    (r"INTERNAL", "internal"),
    (r"INVALID|INVALID_ARG|DECODE|FORMAT|VERSION|FORMAT_VERSION|BUFFER_TOO_SMALL|CONFIG|KEY_SIZE",
     "invalid"),
    (r"SIGNATURE|BAD_SIGNATURE|THRESHOLD_PROOF_INVALID|AUTH|HASH|CERTIFICATE", "verify"),
    (r"DENIED|BLOB_DENIED|NOT_MEMBER|NO_QUORUM|QUORUM|ROLE|NOT_OWNER|NOT_GRANTED", "denied"),
]


def _suffix(name):
    return re.sub(r"^[A-Z]+_(E|ERR)_", "", name)


@pytest.mark.parametrize("pattern, kind", NAME_KINDS)
def test_names_and_kinds_agree(pattern, kind):
    named = [c for c in _codes.CODES.values() if re.fullmatch(pattern, _suffix(c.name))]
    assert named, pattern
    assert [c.name for c in named if c.kind != kind] == []


def test_ledger_codes_passed_on_by_libfedshare_map_as_in_libledger():
    # consortium.py once mapped -202 (LEDGER_E_VERSION) to NotFoundError and left
    # -208 (LEDGER_E_NOT_FOUND) a plain Error.
    with pytest.raises(errors.InvalidInputError) as info:
        consortium.check(-202)
    assert not isinstance(info.value, errors.NotFoundError)
    assert "unknown format version" in str(info.value)
    with pytest.raises(errors.NotFoundError, match="not found"):
        consortium.check(-208)


def test_deprecated_names_are_aliases_of_the_new_ones():
    aliases = {}
    for h in _headers():
        aliases.update(ALIAS.findall(h.read_text(encoding="utf-8")))
    assert aliases == _codes.ALIASES
    assert set(aliases) == {"LEDGER_E_BUFFER", "FEDAVG_E_BUFFER", "FEDSHARE_E_BUFFER",
                            "ABAC_E_NOSPACE"}
    for old, new in aliases.items():
        assert new.endswith("_BUFFER_TOO_SMALL")
        assert _codes.BY_NAME[old] is _codes.BY_NAME[new]


def test_a_module_may_narrow_a_kind_but_not_contradict_it():
    did_error = type("DidLike", (errors.InvalidInputError,), {})
    check = make_checker("fedshare", lambda rc: "t", {-504: did_error})
    with pytest.raises(did_error):
        check(-504)
    with pytest.raises(TypeError, match="NotFoundError"):
        make_checker("ledger", lambda rc: "t", {-202: errors.NotFoundError})


def test_a_1024_bit_python_paillier_key_is_refused_as_too_small():
    # python-paillier's default key length is 1024 bits; any odd 1024-bit n
    # shows the size is checked before anything else.
    n = (1 << 1023) + 12345
    data = json.dumps({"public_key": {"n": n}, "values": [[7, 0]]})
    with pytest.raises(errors.InvalidInputError) as info:
        phe.from_python_paillier_json(data)
    exc = info.value
    assert exc.code == _codes.BY_NAME["PHE_ERR_KEY_SIZE"].value
    assert "at least 2048 bits" in str(exc) and "1024 bits" in str(exc)
    with pytest.raises(errors.InvalidInputError, match="at least 2048 bits"):
        phe.PublicKey.from_n(n)
