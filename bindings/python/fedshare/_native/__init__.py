"""Low layer of the bindings: the one CFFI module and return-code checking.

The five libraries (libphe, libledger, libfedavg, libabac, libfedshare) are
compiled into ONE extension module, ``fedshare._native._lib``, each linked
once; :data:`ffi` and :data:`lib` are its. So a ``phe_pubkey *`` made by
:mod:`fedshare.phe` is the very pointer :mod:`fedshare.consortium` hands to
libfedshare: handles cross rooms as handles, never as encodings.
:func:`load` is kept for callers that name a room (every room gives the same
module); :func:`make_checker` builds a room's ``check`` that turns a negative
return code into the matching :class:`fedshare.Error` subclass.

Which subclass is not written here: every code of the five libraries has a kind
in its library's table (lib*/codes.tsv), generated at build time into
:mod:`fedshare._codes`, and :data:`fedshare.errors.BY_KIND` names the class of
each kind. A code passed on from one library by another (libfedshare returns
libledger's codes unchanged) is therefore mapped the same way everywhere.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Mapping, Optional, Type

from .. import _codes
from ..errors import BY_KIND, Error

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


def error_class(rc: int, default: Type[Error] = Error) -> Type[Error]:
    """The exception class of return code ``rc`` (its kind in the code tables);
    ``default`` for a code no table names."""
    code = _codes.CODES.get(rc)
    return BY_KIND[code.kind] if code is not None else default


def code_value(name: str) -> int:
    """The value of a C return-code name (``"FEDSHARE_E_DID"``; deprecated names too)."""
    return _codes.BY_NAME[name].value


def make_checker(
    room: str,
    strerror: Callable[[int], str],
    kinds: Optional[Mapping[int, Type[Error]]] = None,
    default: Type[Error] = Error,
) -> Callable[[int], int]:
    """Build ``check(rc)`` for one room.

    ``strerror`` gives the C library's static message for a code. The class of
    each code comes from the code tables (:func:`error_class`); ``kinds`` may
    only narrow it to a subclass (``FEDSHARE_E_DID`` → ``DidError``), so a
    module cannot contradict the table. ``check`` returns ``rc`` unchanged when
    it is not negative and raises otherwise.
    """
    narrow = dict(kinds or {})
    for rc, cls in narrow.items():
        base = error_class(rc, default)
        if not issubclass(cls, base):
            raise TypeError(f"{room}: {cls.__name__} for code {rc} is not a {base.__name__}, "
                            "the class its table kind gives")

    def check(rc: int) -> int:
        if rc >= 0:
            return rc
        cls = narrow.get(rc) or error_class(rc, default)
        raise cls(f"{room}: {strerror(rc)} ({rc})", code=rc, library=room)

    return check
