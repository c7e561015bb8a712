#!/usr/bin/env bash
# valgrind memcheck of programs under the shim: a client (socket, connect,
# a configuration file with rules, debug logging), a server (accept, accept4)
# and many threads. No memory error and no definitely or indirectly lost
# block; the shim must have acted inside valgrind (configured sockets). The
# negative control preloads libkh_leak.so, which leaks and reads
# uninitialised memory, and must make memcheck fail.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

PROBE=$KAP_BIN/tcpprobe
KH=$KAP_BIN/kh_hostile
LEAK=$KAP_BIN/libkh_leak.so
if [ "${KAP_SANITIZE:-0}" = 1 ]; then
	t_skip valgrind "valgrind cannot run ASan-instrumented code; runs in make test"
	exit 0
fi
if ! have valgrind; then
	t_skip valgrind "valgrind not installed"
	exit 0
fi
t_require_files "$KAP_LIB" "$PROBE" "$KH" "$LEAK"

# vg NAME PRELOAD [VAR=VALUE...] COMMAND...: runs COMMAND under memcheck
# with LD_PRELOAD and the variables (valgrind adds its own preloads to the
# program's and keeps ours); the program's output lands in $T_TMP/NAME.out,
# memcheck's in $T_TMP/NAME.vg.
vg() {
	local name=$1 pre=$2 vars=()
	shift 2
	while [ $# -gt 0 ] && [[ $1 == *=* ]]; do
		vars+=("$1")
		shift
	done
	env LD_PRELOAD="$pre" "${vars[@]}" valgrind -q --error-exitcode=97 --leak-check=full \
		--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		--log-file="$T_TMP/$name.vg" "$@" >"$T_TMP/$name.out" 2>&1
}

# check NAME RC: memcheck's verdict on one run.
check() {
	local name=$1 rc=$2 log
	log=$(cat "$T_TMP/$name.vg")
	if [ "$rc" = 0 ] && ! grep -q 'ERROR SUMMARY: [1-9]\|definitely lost: [1-9]\|indirectly lost: [1-9]\|Invalid \|uninitialised' <<<"$log"; then
		t_pass "valgrind_${name}_clean"
	else
		t_fail "valgrind_${name}_clean" "exit $rc; memcheck: $(head -c 1500 <<<"$log")"
	fi
}

cat >"$T_TMP/kap.conf" <<'EOF'
idle = 50
interval = 10
user_timeout = auto
[rule loop]
direction = outbound
remote = 127.0.0.0/8, ::1
idle = 21
[rule other]
remote = 10.0.0.0/8
port = 1000-2000
enable = off
EOF

"$PROBE" server 0 --accept 100 --hold -1 >"$T_TMP/srv" 2>&1 &
T_PIDS+=($!)
if ! port=$(t_listen_port "$T_TMP/srv"); then
	t_fail valgrind_setup "tcpprobe server did not start: $(cat "$T_TMP/srv")"
	exit 1
fi

# Client: the rule for 127.0.0.0/8 applies at connect().
vg client "$KAP_PRELOAD" KAP_CONFIG="$T_TMP/kap.conf" KAP_LOG=debug \
	"$PROBE" client 127.0.0.1 "$port"
rc=$?
check client "$rc"
t_contains valgrind_client_shim_acted "keepalive=1 idle=21 interval=10" "$(cat "$T_TMP/client.out")"
t_contains valgrind_client_debug_logged "libkapreload: fd" "$(cat "$T_TMP/client.out")"

# Server: accept() and accept4() under the shim.
for mode in accept accept4; do
	args=(server 0 --accept 1)
	[ "$mode" = accept4 ] && args+=(--accept4)
	vg "$mode" "$KAP_PRELOAD" KAP_IDLE=23 "$PROBE" "${args[@]}" &
	pid=$!
	sport=
	for _ in $(seq 100); do
		sport=$(sed -n 's/^listening //p' "$T_TMP/$mode.out" 2>/dev/null)
		[ -n "$sport" ] && break
		sleep 0.1
	done
	[ -n "$sport" ] && env -u LD_PRELOAD "$PROBE" client 127.0.0.1 "$sport" >/dev/null 2>&1
	wait "$pid"
	check "$mode" "$?"
	t_contains "valgrind_${mode}_shim_acted" "accepted keepalive=1 idle=23" "$(cat "$T_TMP/$mode.out")"
done

# Threads, fd reuse across TCP and non-TCP sockets.
vg threads "$KAP_PRELOAD" KAP_IDLE=25 "$KH" threads 4 200 25
check threads "$?"
t_contains valgrind_threads_shim_acted "tcp_bad=0 " "$(cat "$T_TMP/threads.out")"

# Negative control: memcheck as run here does catch a leak and an
# uninitialised read in a preloaded object.
vg leak "$KAP_PRELOAD $LEAK" KAP_IDLE=25 "$KH" sock
rc=$?
if [ "$rc" = 97 ] && grep -q 'definitely lost' "$T_TMP/leak.vg" &&
	grep -q 'uninitialised' "$T_TMP/leak.vg"; then
	t_pass valgrind_control_leak_detected
else
	t_fail valgrind_control_leak_detected "exit $rc; memcheck: $(head -c 800 "$T_TMP/leak.vg")"
fi

t_done
