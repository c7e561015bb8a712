#!/usr/bin/env bash
# Runs every unit test binary and every tests/integration/*.sh script,
# and ends with the line "N passed, N failed, N skipped".
# Usage: tests/run.sh [PATTERN]   (PATTERN filters script and binary names)
set -u
here=$(cd "$(dirname "$0")" && pwd)
KAP_BUILD=$(cd "${KAP_BUILD:-$here/../build}" && pwd) || exit 2
export KAP_BUILD
pattern=${1:-}
passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() { # NAME COMMAND...
	local name=$1 rc start
	shift
	[ -n "$pattern" ] && case $name in *"$pattern"*) ;; *) return ;; esac
	start=$SECONDS
	echo "== $name"
	# Each suite gets 240 s; a hang is a failure, not a stuck CI.
	timeout -k 5 240 "$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	local p f s
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	s=$(grep -c '^SKIP ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc without reporting a failure"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	echo "-- $name: $p passed, $f failed, $s skipped ($((SECONDS - start)) s)"
}

for t in "$KAP_BUILD"/tests/unit_*; do
	[ -x "$t" ] && run_one "$(basename "$t")" "$t"
done
for t in "$here"/integration/*.sh; do
	[ -f "$t" ] && run_one "$(basename "$t" .sh)" bash "$t"
done

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
