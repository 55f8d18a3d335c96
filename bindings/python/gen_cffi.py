#!/usr/bin/env python3
"""Emit the C source of the one CFFI out-of-line API-mode extension module.

Usage: gen_cffi.py --module fedshare._native._lib --out _lib.c \
                   --preamble cdef/phe_preamble.h [--preamble ...] CDEF [CDEF ...]

The preambles are the C text the module is compiled with (each includes one
library's public headers), joined in the order given; each CDEF file holds the
declarations CFFI exposes to Python, kept beside the library's header subset
(STYLE.md). All of them go into ONE FFI, so a handle type (``phe_pubkey *``,
``ledger_client *`` ...) is one type for every room, and a declaration may be
made in one CDEF file only (CFFI refuses duplicates). Meson compiles the
emitted file into the extension module linked with the five libraries, each
once.
"""
import argparse

import cffi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--preamble", required=True, action="append")
    ap.add_argument("--out", required=True)
    ap.add_argument("cdefs", nargs="+")
    a = ap.parse_args()
    ffi = cffi.FFI()
    for path in a.cdefs:
        with open(path, encoding="utf-8") as f:
            ffi.cdef(f.read())
    source = []
    for path in a.preamble:
        with open(path, encoding="utf-8") as f:
            source.append(f"/* {path.rsplit('/', 1)[-1]} */\n" + f.read())
    ffi.set_source(a.module, "\n".join(source))
    ffi.emit_c_code(a.out)


if __name__ == "__main__":
    main()
