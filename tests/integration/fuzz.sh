#!/usr/bin/env bash
# A bounded libFuzzer run of the configuration parser (`make fuzz`, for
# KAP_FUZZ_SECONDS, default 45) that passes with its exec count and fails on
# any crash, sanitizer report or invariant trap; then every file under
# tests/fuzz/regressions/ is replayed through the same target. Skips where
# clang's -fsanitize=fuzzer does not link. The negative control is a target
# that crashes on purpose, judged by the same code.

# Read before lib.sh, which unsets every KAP_* variable.
secs=${KAP_FUZZ_SECONDS:-45}
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
fcc=${FUZZ_CC:-clang}
if [ "${KAP_SANITIZE:-0}" = 1 ]; then
	t_skip fuzz "the fuzzer is built with ASan and UBSan already; make test runs it"
	exit 0
fi
if ! have "$fcc"; then
	t_skip fuzz "$fcc not installed"
	exit 0
fi
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
	'{ if (n > 2 && d[0] == 75 && d[1] == 65 && d[2] == 80) __builtin_trap(); return 0; }' \
	>"$T_TMP/crash.c"
if ! "$fcc" -fsanitize=fuzzer,address,undefined -o "$T_TMP/crash" "$T_TMP/crash.c" >"$T_TMP/cc.log" 2>&1; then
	t_skip fuzz "$fcc -fsanitize=fuzzer does not link (libFuzzer missing: $(head -n 1 "$T_TMP/cc.log"))"
	exit 0
fi
if [ ! -f "$TOP_DIR/tests/fuzz/fuzz_config.c" ]; then
	t_fail fuzz_target_exists "tests/fuzz/fuzz_config.c is missing"
	exit 1
fi

# verdict NAME LOG RC: PASS with libFuzzer's exec count, or FAIL with the report.
verdict() {
	local name=$1 log=$2 rc=$3 done_line runs
	done_line=$(grep -E '^Done [0-9]+ runs in' "$log" | tail -n 1)
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' <<<"$done_line")
	if [ "$rc" = 0 ] && [ -n "$runs" ] && [ "$runs" -ge 1000 ] &&
		! grep -qE '^==[0-9]+==ERROR|^SUMMARY: |runtime error:|deadly signal' "$log"; then
		t_pass "$name ($done_line)"
	else
		t_fail "$name" "exit $rc, ${runs:-no} runs: $(grep -E 'ERROR|SUMMARY|runtime error|deadly|Test unit written|artifact' "$log" | head -n 8 | tr '\n' ' ')"
	fi
}

# Negative control: the same judgement on a target that must crash.
(cd "$T_TMP" && timeout 60 ./crash -max_total_time=20 -artifact_prefix="$T_TMP/ctl-" >"$T_TMP/ctl.log" 2>&1)
rc=$?
out=$(verdict fuzz_control_crash_detected "$T_TMP/ctl.log" "$rc")
case $out in
FAIL*) t_pass fuzz_control_crash_detected ;;
*) t_fail fuzz_control_crash_detected "a crashing target was judged clean: $out" ;;
esac

# libFuzzer writes crash-*/leak-*/timeout-*/oom-* into its working directory,
# which make -C makes the top of the tree: keep them, out of the source tree.
artifacts() { (cd "$TOP_DIR" && ls -1 crash-* leak-* timeout-* oom-* slow-unit-* 2>/dev/null); }
before=$(artifacts)
timeout -k 5 $((secs + 120)) make -C "$TOP_DIR" --no-print-directory B="$T_TMP/fuzz" \
	FUZZ_SECONDS="$secs" FUZZ_CC="$fcc" fuzz >"$T_TMP/fuzz.log" 2>&1
rc=$?
grep -E '^Done [0-9]+ runs|^#[0-9]+.*DONE' "$T_TMP/fuzz.log" | sed 's/^/fuzz: /'
new=$(comm -13 <(printf '%s\n' "$before" | sort) <(artifacts | sort) | grep .)
if [ -n "$new" ]; then
	mkdir -p "$TOP_DIR/build/fuzz-findings"
	for f in $new; do mv -f "$TOP_DIR/$f" "$TOP_DIR/build/fuzz-findings/"; done
	echo "fuzz: findings kept in build/fuzz-findings/: $new"
fi
if [ ! -x "$T_TMP/fuzz/fuzz_config" ]; then
	t_fail fuzz_config_build "make fuzz did not build the target: $(tail -n 5 "$T_TMP/fuzz.log")"
	exit 1
fi
verdict fuzz_config_no_crash "$T_TMP/fuzz.log" "$rc"

# Every regression input replayed once (libFuzzer runs file arguments as inputs).
reg=$TOP_DIR/tests/fuzz/regressions
if [ -d "$reg" ]; then
	mapfile -t files < <(find "$reg" -type f | sort)
	if [ "${#files[@]}" -gt 0 ]; then
		(cd "$T_TMP" && "$T_TMP/fuzz/fuzz_config" "${files[@]}") >"$T_TMP/reg.log" 2>&1
		rc=$?
		if [ "$rc" = 0 ]; then
			t_pass "fuzz_regressions_replayed (${#files[@]} files)"
		else
			t_fail fuzz_regressions_replayed "exit $rc: $(grep -E 'ERROR|SUMMARY|Running' "$T_TMP/reg.log" | tail -n 6 | tr '\n' ' ')"
		fi
	fi
fi

t_done
