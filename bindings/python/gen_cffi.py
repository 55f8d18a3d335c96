#!/usr/bin/env python3
"""Emit the C source of one CFFI out-of-line API-mode extension module.

Usage: gen_cffi.py --module fedshare._native._phe --preamble cdef/phe_preamble.h \
                   --out _phe.c CDEF [CDEF ...]

The preamble is the C text the module is compiled with (it includes the
library's public headers); each CDEF file holds the declarations CFFI exposes
to Python, kept beside the library's header subset (STYLE.md). Meson compiles
the emitted file into an extension module linked with the library.
"""
import argparse

import cffi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--preamble", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("cdefs", nargs="+")
    a = ap.parse_args()
    ffi = cffi.FFI()
    for path in a.cdefs:
        with open(path, encoding="utf-8") as f:
            ffi.cdef(f.read())
    with open(a.preamble, encoding="utf-8") as f:
        ffi.set_source(a.module, f.read())
    ffi.emit_c_code(a.out)


if __name__ == "__main__":
    main()
