#!/usr/bin/env bash
# The library, the unit tests and the core black-box tests once more, built
# with AddressSanitizer and UndefinedBehaviorSanitizer (make check-sanitize
# runs every suite that way; this keeps a fast subset in every make test).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

if [ "${KAP_SANITIZE:-0}" = 1 ]; then
	t_skip sanitize "already running under the sanitizers"
	t_done
	exit
fi
asan=$(gcc -print-file-name=libasan.so 2>/dev/null)
if ! have gcc || [ ! -e "$asan" ] || [ "$asan" = libasan.so ]; then
	t_skip sanitize "gcc's libasan is not installed"
	t_done
	exit
fi

san=$TOP_DIR/build/san
reports=$T_TMP/reports
mkdir -p "$reports"
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
if ! make -s -C "$TOP_DIR" B="$san" CC=gcc CFLAGS="$flags" \
	LDFLAGS="-fsanitize=address,undefined" test-programs >"$T_TMP/build.log" 2>&1; then
	t_fail "sanitize: build" "$(tail -n 5 "$T_TMP/build.log")"
	t_done
	exit
fi
t_pass "sanitize: library and tests build with ASan and UBSan"

for suite in unit_ core_client core_server core_config core_override core_untouched \
	core_errno core_badinput core_ipv6 hostile_threads hostile_ctor hostile_inetd; do
	KAP_SANITIZE=1 KAP_BUILD=$san \
		ASAN_OPTIONS="detect_leaks=0:log_path=$reports/asan" \
		UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports/ubsan" \
		"$TESTS_DIR/run.sh" "$suite" >"$T_TMP/$suite.log" 2>&1
	summary=$(tail -n 1 "$T_TMP/$suite.log")
	case $summary in
	*" passed, 0 failed"*) t_pass "sanitize: $suite ($summary)" ;;
	*) t_fail "sanitize: $suite" "$summary: $(grep '^FAIL' "$T_TMP/$suite.log" | head -n 3 | tr '\n' ' ')" ;;
	esac
done

found=$(ls -A "$reports")
if [ -z "$found" ]; then
	t_pass "sanitize: no ASan or UBSan report from any process"
else
	t_fail "sanitize: reports" "$(head -n 8 "$reports"/* | tr '\n' ' ')"
fi
t_done
