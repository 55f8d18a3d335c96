"""A versioned Cedar policy set's canonical form (``ABCP``, docs/formats/abac.md) shown
to people: the set stores its Cedar policy text as the owner wrote it (comments and layout
included), so the console shows that text as it is and offers it for editing unchanged.

Anything this reader does not understand raises :class:`ValueError`; the console then
shows the policy names only.
"""
from __future__ import annotations

import struct
from typing import List, Tuple

_MAX_MEMBERS = 1024


class _Reader:
    def __init__(self, data: bytes):
        self.b, self.i = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.i + n > len(self.b):
            raise ValueError("truncated policy set")
        v = self.b[self.i:self.i + n]
        self.i += n
        return v

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]


def parts(encoding: bytes) -> Tuple[int, List[bytes], str]:
    """(version, members, Cedar text) of a set's canonical encoding."""
    r = _Reader(bytes(encoding))
    if r.take(4) != b"ABCP" or r.u8() != 1:
        raise ValueError("not a version-1 Cedar policy set")
    version = r.u64()
    n_members = r.u32()
    if n_members > _MAX_MEMBERS:
        raise ValueError("too many members")
    members = [r.take(32) for _ in range(n_members)]
    try:
        text = r.take(r.u32()).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError("policy text is not UTF-8") from e
    if r.i != len(r.b):
        raise ValueError("trailing bytes after the policy set")
    return version, members, text


def render(encoding: bytes) -> str:
    """The Cedar policy text of a set, exactly as stored (raises ValueError for bytes it
    cannot read)."""
    return parts(encoding)[2]


def render_update(encoding: bytes) -> Tuple[bytes, bytes, List[Tuple[bytes, bytes]]]:
    """A signed update (``ABCU``): (base hash, next set's encoding, [(key, signature)])."""
    r = _Reader(bytes(encoding))
    if r.take(4) != b"ABCU" or r.u8() != 1:
        raise ValueError("not a version-1 Cedar policy update")
    base = r.take(32)
    nxt = r.take(r.u32())
    n = r.u32()
    if n > _MAX_MEMBERS:
        raise ValueError("too many signatures")
    sigs = [(r.take(32), r.take(64)) for _ in range(n)]
    if r.i != len(r.b):
        raise ValueError("trailing bytes after the policy update")
    return base, nxt, sigs


__all__ = ["parts", "render", "render_update"]
