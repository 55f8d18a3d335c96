#!/usr/bin/env bash
# The C libraries as a C++ service gets them: install them from a build
# directory into a temporary staging prefix, compile tests/integration/cpp_round.cpp
# with the flags `pkg-config fedshare` gives (its Requires pull in phe, ledger,
# fedavg and abac), run it against four live fedshare-node processes, clean up.
#
# One copy of each library per process (docs/architecture.md, "Linkage"):
# before building, the staged libfedshare.so must have DT_NEEDED on the
# sonames of the staged libphe, libledger, libfedavg and libabac (readelf -d)
# and define none of their symbols, neither exported (nm -D --defined-only)
# nor local (nm --defined-only: the install is not stripped); libfedshare.a
# must not contain them either. The program is built twice: once against the
# shared libraries (`pkg-config --cflags --libs fedshare`), once against the
# archives alone (`pkg-config --static`, each of the five -l flags once, a
# libdir copy without the .so files first on the search path); each build
# runs its own round.
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

# --- one copy of each library --------------------------------------------
fedshare_so=$(readlink -f "$libdir/libfedshare.so")
soname() { readelf -d "$1" | awk '/\(SONAME\)/ { gsub(/[][]/, "", $NF); print $NF }'; }
needed=$(readelf -d "$fedshare_so" | awk '/\(NEEDED\)/ { gsub(/[][]/, "", $NF); print $NF }')
for l in phe ledger fedavg abac; do
    [ -f "$libdir/lib$l.so" ] || { echo "FAIL: the staged libdir has no lib$l.so"; exit 1; }
    n=$(soname "$libdir/lib$l.so")
    [ -n "$n" ] || { echo "FAIL: lib$l.so has no SONAME"; exit 1; }
    grep -qxF "$n" <<<"$needed" ||
        { echo "$needed"; echo "FAIL: libfedshare.so has no DT_NEEDED on $n"; exit 1; }
    echo "libfedshare.so: (NEEDED) Shared library: [$n]"
done
theirs='^(phe|ledger|fedavg|abac)_'
copies=$(nm -D --defined-only "$fedshare_so" | awk -v re="$theirs" 'NF >= 3 && $3 ~ re')
[ -z "$copies" ] ||
    { echo "$copies" | head; echo "FAIL: libfedshare.so exports symbols of the four libraries"; exit 1; }
echo "libfedshare.so: nm -D --defined-only: no phe_, ledger_, fedavg_ or abac_ symbol"
copies=$(nm --defined-only "$fedshare_so" | awk -v re="$theirs" 'NF >= 3 && $3 ~ re')
[ -z "$copies" ] ||
    { echo "$copies" | head; echo "FAIL: libfedshare.so holds (local) copies of the four libraries"; exit 1; }
echo "libfedshare.so: nm --defined-only: no phe_, ledger_, fedavg_ or abac_ symbol"
[ -f "$libdir/libfedshare.a" ] || { echo "FAIL: the staged libdir has no libfedshare.a"; exit 1; }
copies=$(nm --defined-only "$libdir/libfedshare.a" | awk -v re="$theirs" 'NF >= 3 && $3 ~ re')
[ -z "$copies" ] ||
    { echo "$copies" | head; echo "FAIL: libfedshare.a holds copies of the four libraries"; exit 1; }
echo "libfedshare.a: nm --defined-only: no phe_, ledger_, fedavg_ or abac_ symbol"

static_flags=$(pkg-config --static --cflags --libs fedshare)
for l in -lfedshare -lphe -lledger -lfedavg -labac; do
    c=$(tr ' ' '\n' <<<"$static_flags" | grep -cxF -- "$l" || true)
    [ "$c" = 1 ] || { echo "FAIL: '$l' appears $c times in: $static_flags"; exit 1; }
done
echo "pkg-config --static --cflags --libs fedshare: $static_flags"
# Only the archives: a copy of the staged libdir without the .so files, searched first.
mkdir "$stage/static"
for l in fedshare phe ledger fedavg abac; do
    cp "$libdir/lib$l.a" "$stage/static/"
done

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
echo "compiling: $CXX -std=c++17 -Wall -Wextra -Werror ${san[*]} cpp_round.cpp -L\$stage/static \$(pkg-config --static --cflags --libs fedshare)"
# shellcheck disable=SC2086  # static_flags is a word list
if ! $CXX -std=c++17 -Wall -Wextra -Werror "${san[@]}" -o "$stage/cpp_round_static" "$SRC" \
    -L"$stage/static" $static_flags 2>"$stage/compile_static.log"; then
    cat "$stage/compile_static.log"
    echo "FAIL: the C++ program does not link against the staged archives"
    exit 1
fi
static_needed=$(readelf -d "$stage/cpp_round_static" | awk '/\(NEEDED\)/ { print $NF }')
if grep -E '\[lib(fedshare|phe|ledger|fedavg|abac)\.so' <<<"$static_needed"; then
    echo "FAIL: the static build of the program still needs a shared fedshare library"
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

# The installed node program (static: one copy of each library, no rpath),
# not the build tree's, when the install has it.
staged_node=$(find "$stage/root" -path '*/bin/fedshare-node' -type f -print -quit)
if [ -n "$staged_node" ]; then
    NODE=$staged_node
    if readelf -d "$NODE" | grep -E '\[lib(fedshare|phe|ledger|fedavg|abac)\.so'; then
        echo "FAIL: the installed fedshare-node needs a shared fedshare library"
        exit 1
    fi
fi
echo "node program: $NODE"

# Only the staged libraries: the program must not pick up another install.
ldd_out=$(LD_LIBRARY_PATH="$libdir" ldd "$stage/cpp_round")
for l in libfedshare libphe libledger libfedavg libabac; do
    grep -q "$l.so.* => $libdir/" <<<"$ldd_out" ||
        { echo "$ldd_out"; echo "FAIL: $l does not resolve to the staged $libdir"; exit 1; }
done

echo "round 1 of 2: the program linked with the shared libraries"
LD_LIBRARY_PATH="$libdir" "$stage/cpp_round" "$NODE" "$stage/work" ||
    { rc=$?; echo "FAIL: the round of the shared build (exit $rc)"; exit "$rc"; }
echo "round 2 of 2: the program linked with the archives"
"$stage/cpp_round_static" "$NODE" "$stage/work-static" ||
    { rc=$?; echo "FAIL: the round of the static build (exit $rc)"; exit "$rc"; }
echo "PASS run_cpp_round: one copy of each library; both builds ran a round"
