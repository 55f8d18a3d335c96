#!/usr/bin/env python3
"""Libraries do not print (docs/contributing.md): fail on any output to the
terminal in the library sources: printf/puts/perror and the like, any use of
stderr or stdout (fprintf(stderr, …)), or a write to file descriptor 1 or 2.

Usage: check_no_print.py SOURCE_ROOT     check the library sources
       check_no_print.py --self-test     check that the checker finds what it must

A library hands messages to its caller (a log callback, an error-text buffer);
only programs print. Programs that live beside a library's sources are named
in PROGRAMS and skipped by file name; everything else under LIBRARY_DIRS (.c
and .h, recursively) is checked. Comments and string literals are ignored, so
"blob puts" in a comment or "stderr" in a message is not a use.
"""
import os
import re
import sys
import tempfile

# Library sources and public headers, relative to the source root.
LIBRARY_DIRS = [
    "libphe/src", "libphe/include",
    "libledger/src", "libledger/include",
    "libfedavg/src", "libfedavg/include",
    "libabac/src", "libabac/include",
    "libfedshare/src", "libfedshare/include",
]

# Program mains inside those directories (they print; the libraries do not).
PROGRAMS = {
    "libledger/src/consensus/node/node_main.c",
}

# Calls that always write to the terminal (stdout, stderr or the system log).
CALLS = ["printf", "vprintf", "puts", "putchar", "perror", "psignal", "psiginfo", "syslog",
         "vsyslog", "err", "errx", "verr", "verrx", "warn", "warnx", "vwarn", "vwarnx", "error",
         "error_at_line"]
# Names whose mere use means output to the standard streams: fprintf(stderr, …),
# fputs(…, stdout), fwrite(…, stderr) are all caught by the stream's name. A
# library may still fprintf to a file it opened itself (a status file).
NAMES = ["stderr", "stdout", "STDERR_FILENO", "STDOUT_FILENO"]

PATTERN = re.compile(
    r"\b(?:" + "|".join(CALLS) + r")\s*\("                   # a call of a terminal printer
    r"|\b(?:" + "|".join(NAMES) + r")\b"                     # a standard stream
    r"|\b(?:write|v?dprintf)\s*\(\s*[12]\s*,")               # to fd 1 or 2 by number
# An attribute such as __attribute__((format(printf, 2, 3))) names printf
# without calling it; no '(' follows, so PATTERN does not match it.


def strip_comments_and_strings(text):
    """The C text with comments, string and character literals blanked (newlines kept,
    so line numbers stay right)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def find_uses(path):
    """(line number, line) of every output use in one file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    code = strip_comments_and_strings(raw).split("\n")
    lines = raw.split("\n")
    return [(k + 1, lines[k].strip()) for k, line in enumerate(code) if PATTERN.search(line)]


def check(root):
    bad, files = [], 0
    for d in LIBRARY_DIRS:
        top = os.path.join(root, d)
        if not os.path.isdir(top):
            print(f"check_no_print: {d}: no such directory (update LIBRARY_DIRS)")
            return 1
        for dirpath, _, names in os.walk(top):
            for name in sorted(names):
                if not name.endswith((".c", ".h", ".inc")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                if rel in PROGRAMS:
                    continue
                files += 1
                bad += [(rel, k, line) for k, line in find_uses(path)]
    for p in PROGRAMS:
        if not os.path.isfile(os.path.join(root, p)):
            print(f"check_no_print: {p}: listed program not found (update PROGRAMS)")
            return 1
    for rel, k, line in bad:
        print(f"{rel}:{k}: library code prints: {line}")
    if bad:
        print(f"check_no_print: {len(bad)} use(s) of stdio output in library sources; hand "
              "the text to the caller instead (a log callback or an error buffer)")
        return 1
    print(f"check_no_print: {files} library source files, none prints")
    return 0


def self_test():
    must_find = [
        'fprintf(stderr, "x\\n");',
        "printf(\"%d\", 1);",
        "puts (\"x\");",
        "perror(\"open\");",
        "FILE *f = stdout;",
        "(void)write(2, buf, n);",
        "fputs(msg, stdout);",
        "dprintf(2, \"%s\", m);",
    ]
    must_pass = [
        "/* the blob puts of a member */",
        "// prints to stderr in the program only",
        'snprintf(buf, sizeof buf, "%s", "stderr and printf( in a string");',
        "__attribute__((format(printf, 2, 3))) static int fail(int, const char *, ...);",
        "vsnprintf(msg, sizeof msg, fmt, ap);",
        "fprintf(status_file, \"%lld\\n\", t); /* a file the library opened */",
        "int err = 0; size_t outputs = 0; c = '\"';",
    ]
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        for i, snippet in enumerate(must_find + must_pass):
            path = os.path.join(d, f"s{i}.c")
            with open(path, "w", encoding="utf-8") as f:
                f.write("static void g(void) {\n    " + snippet + "\n}\n")
            found = bool(find_uses(path))
            if found != (snippet in must_find):
                print(f"self-test: {'missed' if not found else 'false alarm on'}: {snippet}")
                failures += 1
    print(f"check_no_print self-test: {len(must_find) + len(must_pass) - failures} of "
          f"{len(must_find) + len(must_pass)} cases right")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2:
        print(__doc__)
        return 2
    return check(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
