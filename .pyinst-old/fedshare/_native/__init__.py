"""Low layer of the bindings: the CFFI modules and return-code checking.

Each room's compiled module lives here as ``fedshare._native._<room>`` and
exposes ``ffi`` and ``lib``. :func:`load` imports one with a clear error if the
package was built without it; :func:`check` turns a negative return code into
the matching :class:`fedshare.Error` subclass.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable, Mapping, Type

from ..errors import Error


def load(room: str) -> ModuleType:
    """Import the compiled CFFI module of ``room`` (``"phe"``, ``"fedavg"`` …)."""
    try:
        return importlib.import_module(f"fedshare._native._{room}")
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise ImportError(
            f"fedshare was built without its '{room}' module ({exc}); "
            "reinstall with `pip install .` from a checkout that has lib" + room
        ) from exc


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
