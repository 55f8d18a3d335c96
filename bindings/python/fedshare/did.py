"""Participant identities: W3C DIDs of the ``did:key`` method over Ed25519 keys.

A participant's ledger address is its Ed25519 public key (the sender key of its
ledger transactions), and its DID is that key in did:key form, so the two
convert into each other without any lookup:

    >>> from fedshare import did
    >>> key = bytes.fromhex(
    ...     "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29")
    >>> d = did.did_from_public_key(key)
    >>> d
    'did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp'
    >>> did.public_key_from_did(d) == key
    True
    >>> doc = did.did_document(d)
    >>> doc["keyAgreement"][0]["type"]
    'X25519KeyAgreementKey2020'

Encoding, decoding and the DID document follow the did:key Method
specification (W3C CCG, https://w3c-ccg.github.io/did-method-key/); every byte
is in docs/formats/fedshare-did.md. Anything that is not exactly a did:key of
a valid Ed25519 key raises :class:`DidError` (an
:class:`~fedshare.errors.InvalidInputError`, hence a ``ValueError``).
"""
from __future__ import annotations

import json
from typing import Any, Dict, Union

from . import errors
from ._native import code_value, load, make_checker

_m = load("fedshare")
ffi, lib = _m.ffi, _m.lib

E_INVALID = code_value("FEDSHARE_E_INVALID")
E_FORMAT = code_value("FEDSHARE_E_FORMAT")
E_BUFFER = code_value("FEDSHARE_E_BUFFER_TOO_SMALL")
E_DID = code_value("FEDSHARE_E_DID")
E_NOMEM = code_value("FEDSHARE_E_NOMEM")
E_CRYPTO = code_value("FEDSHARE_E_CRYPTO")

#: Characters of an Ed25519 did:key ("did:key:z6Mk" and 44 more).
DID_LENGTH: int = lib.FEDSHARE_DID_KEY_LEN
#: Bytes of an Ed25519 public key.
PUBLIC_KEY_BYTES = 32


class DidError(errors.InvalidInputError):
    """Not a did:key identifier of a valid Ed25519 key (libfedshare FEDSHARE_E_DID)."""


# The code tables give each code's exception (fedshare._native); FEDSHARE_E_DID is
# narrowed to DidError, an InvalidInputError.
check = make_checker("fedshare", lambda rc: ffi.string(lib.fedshare_strerror(rc)).decode(),
                     {E_DID: DidError})

BytesLike = Union[bytes, bytearray, memoryview]


def _key_bytes(key: Any) -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise errors.InvalidInputError(
            f"a public key is 32 bytes, not {type(key).__name__}",
            code=E_INVALID,
            library="fedshare",
        )
    key = bytes(key)
    if len(key) != PUBLIC_KEY_BYTES:
        raise errors.InvalidInputError(
            f"a public key is 32 bytes, not {len(key)}", code=E_INVALID, library="fedshare"
        )
    return bytes(key)


def _text_bytes(value: Any, what: str = "a DID") -> bytes:
    if isinstance(value, str):
        # Non-ASCII text is never valid here; the C decoders refuse its bytes.
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise errors.InvalidInputError(
        f"{what} is a str, not {type(value).__name__}", code=E_INVALID, library="fedshare"
    )


def did_from_public_key(public_key: BytesLike) -> str:
    """The did:key identifier of an Ed25519 public key (a participant's ledger address).

    Args:
        public_key: the 32-byte Ed25519 public key.

    Returns:
        ``"did:key:z6Mk…"``, :data:`DID_LENGTH` characters.

    Raises:
        DidError: the bytes are not a valid Ed25519 point (not canonical, not on
            the curve, or of small order), so no did:key of them could be resolved.
        fedshare.InvalidInputError: not 32 bytes.
    """
    key = _key_bytes(public_key)
    out = ffi.new("char[]", lib.FEDSHARE_DID_BUF)
    check(lib.fedshare_did_from_pubkey(key, out, lib.FEDSHARE_DID_BUF))
    return str(ffi.string(out).decode("ascii"))


def public_key_from_did(did: Union[str, bytes]) -> bytes:
    """The Ed25519 public key (ledger address) a did:key identifier names.

    Only the exact did:key form is accepted: ``did:key:`` then multibase ``z``
    (base58btc) of the multicodec ``ed25519-pub`` key; no DID URL (fragment,
    query or path), and the key must be a valid Ed25519 point.

    Raises:
        DidError: anything else.
    """
    data = _text_bytes(did)
    pk = ffi.new("uint8_t[32]")
    check(lib.fedshare_did_to_pubkey(data, len(data), pk))
    return bytes(ffi.buffer(pk, PUBLIC_KEY_BYTES))


def did_document_json(did: Union[str, bytes]) -> str:
    """The DID document of a did:key identifier as canonical JSON text.

    Members in a fixed order, no insignificant white space: the same DID always
    gives the same bytes (docs/formats/fedshare-did.md), so the text can be hashed.

    Raises:
        DidError: ``did`` is not a did:key of a valid Ed25519 key.
    """
    data = _text_bytes(did)
    need = ffi.new("size_t *")
    check(lib.fedshare_did_document(data, len(data), ffi.NULL, 0, need))
    size = need[0] + 1
    out = ffi.new("char[]", size)
    check(lib.fedshare_did_document(data, len(data), out, size, need))
    return str(ffi.unpack(out, need[0]).decode("ascii"))


def did_document(did: Union[str, bytes]) -> Dict[str, Any]:
    """Resolve a did:key identifier to its DID document (parsed JSON).

    The document holds the Ed25519VerificationKey2020 method (used for
    authentication, assertion, capability invocation and delegation) and the
    X25519KeyAgreementKey2020 key derived from it for key agreement, as the
    did:key specification derives them.

    Raises:
        DidError: ``did`` is not a did:key of a valid Ed25519 key.
    """
    doc: Dict[str, Any] = json.loads(did_document_json(did))
    return doc


def base58_encode(data: BytesLike) -> str:
    """Base58btc (Bitcoin alphabet) text of at most 256 bytes; leading zero bytes become '1'."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise errors.InvalidInputError(
            f"base58 encodes bytes, not {type(data).__name__}", code=E_INVALID, library="fedshare"
        )
    data = bytes(data)
    need = ffi.new("size_t *")
    check(lib.fedshare_base58_encode(data, len(data), ffi.NULL, 0, need))
    out = ffi.new("char[]", need[0] + 1)
    check(lib.fedshare_base58_encode(data, len(data), out, need[0] + 1, need))
    return str(ffi.unpack(out, need[0]).decode("ascii"))


def base58_decode(text: Union[str, bytes]) -> bytes:
    """Bytes of base58btc text (at most 256 characters).

    Raises:
        fedshare.InvalidInputError: a character outside the alphabet, or too long.
    """
    data = _text_bytes(text, "base58 text")
    need = ffi.new("size_t *")
    check(lib.fedshare_base58_decode(data, len(data), ffi.NULL, 0, need))
    out = ffi.new("uint8_t[]", max(need[0], 1))
    check(lib.fedshare_base58_decode(data, len(data), out, need[0], need))
    return bytes(ffi.buffer(out, need[0]))


__all__ = [
    "DidError",
    "DID_LENGTH",
    "PUBLIC_KEY_BYTES",
    "did_from_public_key",
    "public_key_from_did",
    "did_document",
    "did_document_json",
    "base58_encode",
    "base58_decode",
]
