#!/usr/bin/env bash
# The C libraries as a C++ service gets them: install them from a build
# directory into a temporary staging prefix, compile tests/integration/cpp_round.cpp
# with the flags `pkg-config fedshare` gives (its Requires pull in phe, ledger,
# fedavg and abac), run it against four live fedshare-node processes, clean up.
#
#   run_cpp_round.sh MESON BUILD_DIR CPP_SOURCE NODE_PROGRAM [SANITIZE [GUIDE]]
#
# MESON is the meson command (the one that configured BUILD_DIR); SANITIZE is
# the build's b_sanitize value ("none" or e.g. "address,undefined"): the staged
# libraries of a sanitized build call the sanitizer runtime, so the program
# must be compiled with the same -fsanitize flags and by the compiler of that
# build ($CXX; default c++). GUIDE (docs/guides/fedshare-client.md): its C
# snippets must compile against the staged headers too (guide_c_snippets.py;
# $CC, default cc). Exit status: cpp_round's (0 pass, 1 fail), 77
# (meson's "skipped") when the staged install cannot be used, with the reason
# printed.
set -euo pipefail

if [ $# -lt 4 ]; then
    echo "usage: $0 MESON BUILD_DIR CPP_SOURCE NODE_PROGRAM [SANITIZE [GUIDE]]" >&2
    exit 2
fi
MESON=$1 BUILD=$2 SRC=$3 NODE=$(realpath "$4") SANITIZE=${5:-none} GUIDE=${6:-}
CXX=${CXX:-c++}

stage=$(mktemp -d "${TMPDIR:-/tmp}/fedshare_cpp_round.XXXXXX")
trap 'rm -rf "$stage"' EXIT

skip() {
    echo "SKIP run_cpp_round: $*"
    exit 77
}

echo "staging the C libraries: $MESON install -C $BUILD --destdir $stage/root --no-rebuild"
# shellcheck disable=SC2086  # MESON may be a command with arguments (python3 meson.py)
$MESON install -C "$BUILD" --destdir "$stage/root" --no-rebuild --quiet >"$stage/install.log" 2>&1 ||
    { cat "$stage/install.log"; echo "FAIL: meson install"; exit 1; }

pcfile=$(find "$stage/root" -name fedshare.pc -path '*/pkgconfig/*' -print -quit)
[ -n "$pcfile" ] || { echo "FAIL: the install has no fedshare.pc (is install_c true?)"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pcfile")"
# The .pc files name the configured prefix (/usr/local …); the sysroot puts
# the staging directory in front of every -I and -L they produce.
export PKG_CONFIG_SYSROOT_DIR="$stage/root"
for p in fedshare phe ledger fedavg abac; do
    [ -f "$PKG_CONFIG_PATH/$p.pc" ] || { echo "FAIL: $p.pc not installed"; exit 1; }
done
pkg-config --print-errors --exists fedshare || { echo "FAIL: pkg-config cannot resolve fedshare"; exit 1; }
flags=$(pkg-config --cflags --libs fedshare)
for l in -lfedshare -lphe -lledger -lfedavg -labac; do
    case " $flags " in *" $l "*) ;; *) echo "FAIL: '$l' missing from: $flags"; exit 1 ;; esac
done
libdir=$(pkg-config --libs-only-L fedshare | awk '{print substr($1, 3)}')
[ -d "$libdir" ] && [ -f "$libdir/libfedshare.so" ] ||
    { echo "FAIL: the staged libdir '$libdir' has no libfedshare.so"; exit 1; }
echo "pkg-config --cflags --libs fedshare: $flags"

san=()
if [ "$SANITIZE" != none ] && [ -n "$SANITIZE" ]; then
    san=("-fsanitize=$SANITIZE" -fno-sanitize-recover=all)
fi
echo "compiling: $CXX -std=c++17 -Wall -Wextra -Werror ${san[*]} cpp_round.cpp \$(pkg-config --cflags --libs fedshare)"
# shellcheck disable=SC2086  # flags is a word list
if ! $CXX -std=c++17 -Wall -Wextra -Werror "${san[@]}" -o "$stage/cpp_round" "$SRC" $flags \
    2>"$stage/compile.log"; then
    cat "$stage/compile.log"
    if [ ${#san[@]} -gt 0 ] && grep -q -- '-fsanitize' "$stage/compile.log"; then
        skip "the sanitizer runtime of this build ($SANITIZE) cannot link with $CXX"
    fi
    echo "FAIL: the C++ program does not compile or link against the staged install"
    exit 1
fi

# The C snippets of the client guide compile against the same install.
if [ -n "$GUIDE" ]; then
    python3 "$(dirname "$0")/guide_c_snippets.py" "$GUIDE" "$stage/guide.c"
    # shellcheck disable=SC2046  # a word list
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror "${san[@]}" -c -o "$stage/guide.o" "$stage/guide.c" \
        $(pkg-config --cflags fedshare) ||
        { echo "FAIL: a C snippet of $GUIDE does not compile"; exit 1; }
fi

# Only the staged libraries: the program must not pick up another install.
ldd_out=$(LD_LIBRARY_PATH="$libdir" ldd "$stage/cpp_round")
for l in libfedshare libphe libledger libfedavg libabac; do
    grep -q "$l.so.* => $libdir/" <<<"$ldd_out" ||
        { echo "$ldd_out"; echo "FAIL: $l does not resolve to the staged $libdir"; exit 1; }
done

LD_LIBRARY_PATH="$libdir" "$stage/cpp_round" "$NODE" "$stage/work"
