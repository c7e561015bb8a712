#!/usr/bin/env bash
# The build itself: warning-free with gcc and clang, exported symbols, linked libraries.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

for cc in gcc clang; do
	if ! have "$cc"; then
		t_skip "build: $cc" "$cc not installed"
		continue
	fi
	out=$(make -s -C "$TOP_DIR" B="$T_TMP/$cc" CC="$cc" CFLAGS="-O2 -g" \
		"$T_TMP/$cc/libkapreload.so" "$T_TMP/$cc/keepalive-check-helper" 2>&1)
	rc=$?
	t_eq "build: $cc builds the library and helper" 0 "$rc"
	t_eq "build: $cc prints no warning" "" "$(printf '%s' "$out" | grep -i 'warning' | head -n 3)"
done

lib=$KAP_LIB
symbols=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDBVi]$/ {print $3}' | sed 's/@.*//' | sort | tr '\n' ' ')
t_eq "exports: only the interposed calls" "accept accept4 connect setsockopt socket " "$symbols"

if [ "${KAP_SANITIZE:-0}" = 1 ]; then
	t_skip "links only libc and libdl" "the sanitizer build links its runtime"
	t_done
	exit
fi
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
case $needed in
"libc.so.6 " | "libc.so.6 libdl.so.2 " | "libdl.so.2 libc.so.6 ") t_pass "links only libc and libdl ($needed)" ;;
*) t_fail "links only libc and libdl" "NEEDED: $needed" ;;
esac

# The constructor must not be the only way in: the library stays usable by dlopen.
t_check "loads with dlopen" python3 -c "import ctypes; ctypes.CDLL('$lib')"

t_done
