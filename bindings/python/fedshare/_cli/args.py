"""Argument checking shared by every `fedshare` subcommand.

Every numeric option goes through :func:`integer` or :func:`real`, which
refuse at parse time what the C API cannot take (non-finite numbers, values
out of the field's range) with a message naming the option; every file
option goes through :func:`input_file`, :func:`input_dir` or
:func:`output_path`. A refused argument, and any file error met later
(:class:`UsageError`, ``OSError``), is one line on stderr and exit code 2.
Secret files are created by :func:`write_secret`: mode 0600 from the start.
"""
from __future__ import annotations

import argparse
import math
import os
import stat
import sys
from typing import Callable, NoReturn

EXIT_USAGE = 2
U32_MAX = 2**32 - 1


class UsageError(Exception):
    """Bad arguments or input files (exit code 2): nothing was sent."""


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose errors are one line ("PROG: error: ...",
    then exit 2) instead of the usage block; subparsers inherit it."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def integer(lo: int, hi: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: a decimal integer in lo … hi."""
    def parse(text: str) -> int:
        try:
            v = int(text.strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(
                f"{v} is out of range: {what + ' ' if what else ''}must be {lo} … {hi}")
        return v
    parse.__name__ = "integer"
    return parse


def real(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False,
         what: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number in [lo, hi] (open ends as given)."""
    lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
            raise argparse.ArgumentTypeError(
                f"{v:g} is out of range: {what + ' ' if what else ''}must be in "
                f"{lb}{lo:g}, {hi:g}{rb}")
        return v
    parse.__name__ = "number"
    return parse


def _why(e: OSError) -> str:
    return e.strerror or str(e)


def input_file(path: str) -> str:
    """An argparse type: an existing regular file this process can open."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{path}: {_why(e)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise argparse.ArgumentTypeError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise argparse.ArgumentTypeError(f"{path}: not a regular file")
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{path}: {_why(e)}") from None
    return path


def input_dir(path: str) -> str:
    """An argparse type: an existing directory."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{path}: {_why(e)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise argparse.ArgumentTypeError(f"{path}: not a directory")
    return path


def output_path(path: str) -> str:
    """An argparse type: a file to write: not a directory, in a directory that
    exists (whether it is writable is found when it is written)."""
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path}: is a directory, not a file")
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"{path}: no such directory: {parent}")
    return path


def output_dir(path: str) -> str:
    """An argparse type: a directory to use or create (not an existing file)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path}: exists and is not a directory")
    return path


def read_hex_secret(path: "str | os.PathLike[str]", option: str, what: str = "seed") -> bytes:
    """The 32 bytes a key file holds as 64 hex digits (surrounding white space
    allowed). Raises :class:`UsageError` for any other content and
    ``OSError`` if the file cannot be read."""
    with open(path, "rb") as f:
        raw = f.read(1024)
    try:
        b = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        b = b""
    if len(b) != 32:
        raise UsageError(f"{option}: {os.fspath(path)} must hold 64 hex digits (a 32-byte {what})")
    return b


def write_secret(path: "str | os.PathLike[str]", data: bytes) -> None:
    """Create ``path`` (it must not exist) with mode 0600 from the start
    (``O_CREAT | O_EXCL``, so no moment with a wider mode and no following
    of a planted symlink) and write ``data``; a partly written file is
    removed. Raises ``OSError`` (FileExistsError if it exists)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever mode the file system gave it
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def os_error_line(prog: str, e: OSError) -> str:
    """One line for a file error met after parsing."""
    name = e.filename if e.filename is not None else ""
    if e.filename2 is not None:
        name = f"{name} -> {e.filename2}"
    return f"{prog}: error: {name + ': ' if name else ''}{_why(e)}"


def report(prog: str, e: BaseException, out=None) -> int:
    """Print a usage or file error as one line; returns exit code 2."""
    out = out or sys.stderr
    if isinstance(e, OSError):
        print(os_error_line(prog, e), file=out)
    else:
        print(f"{prog}: error: {e}", file=out)
    return EXIT_USAGE


__all__ = ["ArgumentParser", "UsageError", "integer", "real", "input_file", "input_dir",
           "output_path", "output_dir", "read_hex_secret", "write_secret", "report", "U32_MAX",
           "EXIT_USAGE"]

