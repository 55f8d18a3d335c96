"""Low layer of the bindings: the one CFFI module and return-code checking.

The five libraries (libphe, libledger, libfedavg, libabac, libfedshare) are
compiled into ONE extension module, ``fedshare._native._lib``, each linked
once; :data:`ffi` and :data:`lib` are its. So a ``phe_pubkey *`` made by
:mod:`fedshare.phe` is the very pointer :mod:`fedshare.consortium` hands to
libfedshare: handles cross rooms as handles, never as encodings.
:func:`load` is kept for callers that name a room (every room gives the same
module); :func:`make_checker` builds a room's ``check`` that turns a negative
return code into the matching :class:`fedshare.Error` subclass.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Mapping, Type

from ..errors import Error

try:
    from . import _lib as _module
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        f"fedshare's native module fedshare._native._lib is missing ({exc}); "
        "reinstall with `pip install .` from a checkout"
    ) from exc

#: The rooms whose declarations the module carries.
ROOMS = ("phe", "ledger", "fedavg", "abac", "fedshare")

ffi: Any = _module.ffi
lib: Any = _module.lib


def load(room: str) -> ModuleType:
    """The compiled CFFI module (``ffi``, ``lib``) that carries ``room``
    (``"phe"``, ``"fedavg"`` …): the same one module for every room."""
    if room not in ROOMS:
        raise ImportError(f"fedshare has no native room {room!r} (rooms: {', '.join(ROOMS)})")
    return _module


def make_checker(
    room: str,
    strerror: Callable[[int], str],
    kinds: Mapping[int, Type[Error]],
    default: Type[Error] = Error,
) -> Callable[[int], int]:
    """Build ``check(rc)`` for one room.

    ``strerror`` gives the C library's static message for a code; ``kinds``
    maps codes to exception classes. ``check`` returns ``rc`` unchanged when it
    is not negative and raises otherwise.
    """

    def check(rc: int) -> int:
        if rc >= 0:
            return rc
        raise kinds.get(rc, default)(f"{room}: {strerror(rc)} ({rc})", code=rc, library=room)

    return check
