"""The one exception hierarchy of fedshare.

Every error raised by fedshare is a :class:`fedshare.Error`. Each subclass also
inherits the builtin exception a Python user would expect (``ValueError`` for
bad input, ``MemoryError``, ``OSError`` …), so ``except ValueError`` keeps
working. The C libraries' return codes are turned into these by
:func:`fedshare._native.check`.
"""

from typing import Any


class Error(Exception):
    """Base class of every fedshare error.

    Attributes:
        code: the C library's negative return code, or ``None``.
        library: the room that raised it (``"phe"``, ``"ledger"`` …), or ``None``.
    """

    def __init__(self, message: str, code: "int | None" = None, library: "str | None" = None):
        super().__init__(message)
        self.code = code
        self.library = library


class InvalidInputError(Error, ValueError):
    """The input is malformed, out of range or of the wrong kind."""


class VerificationError(Error, ValueError):
    """A proof, signature, hash or share did not verify."""


class AccessDeniedError(Error, PermissionError):
    """A policy or a quorum rule refused the request.

    Attributes:
        decision: the recorded decision (JSON object) when a consortium refused
            an access request, else ``None``.
    """

    decision: "dict[str, Any] | None" = None


class NotFoundError(Error, LookupError):
    """The object asked for does not exist."""


class ResourceError(Error, MemoryError):
    """Out of memory or another resource limit."""


class IOFailureError(Error, OSError):
    """Reading, writing or talking to a peer failed."""


class TimeoutError_(Error, TimeoutError):
    """An operation did not complete in time."""


TimeoutError_.__name__ = "TimeoutError"
TimeoutError_.__qualname__ = "TimeoutError"

#: The exception of each kind of return code. Each library's table
#: (lib*/codes.tsv, generated into fedshare._codes) gives every code a kind;
#: fedshare._native.check raises the class named here.
BY_KIND = {
    "invalid": InvalidInputError,
    "verify": VerificationError,
    "denied": AccessDeniedError,
    "notfound": NotFoundError,
    "resource": ResourceError,
    "io": IOFailureError,
    "timeout": TimeoutError_,
    "internal": Error,
}

__all__ = [
    "BY_KIND",
    "Error",
    "InvalidInputError",
    "VerificationError",
    "AccessDeniedError",
    "NotFoundError",
    "ResourceError",
    "IOFailureError",
    "TimeoutError_",
]
