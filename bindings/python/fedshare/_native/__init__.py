"""Low layer of the bindings: the CFFI modules and return-code checking.

Each room's compiled module lives here as ``fedshare._native._<room>`` and
exposes ``ffi`` and ``lib``. :func:`load` imports one with a clear error if the
package was built without it; :func:`check` turns a negative return code into
the matching :class:`fedshare.Error` subclass.

Which subclass is not written here: every code of the five libraries has a kind
in its library's table (lib*/codes.tsv), generated at build time into
:mod:`fedshare._codes`, and :data:`fedshare.errors.BY_KIND` names the class of
each kind. A code passed on from one library by another (libfedshare returns
libledger's codes unchanged) is therefore mapped the same way everywhere.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable, Mapping, Optional, Type

from .. import _codes
from ..errors import BY_KIND, Error


def load(room: str) -> ModuleType:
    """Import the compiled CFFI module of ``room`` (``"phe"``, ``"fedavg"`` …)."""
    try:
        return importlib.import_module(f"fedshare._native._{room}")
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise ImportError(
            f"fedshare was built without its '{room}' module ({exc}); "
            "reinstall with `pip install .` from a checkout that has lib" + room
        ) from exc


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
