#!/usr/bin/env bash
# Load order: another library's constructor opens a socket before the
# shim's own constructor has run (and after, the other LD_PRELOAD order),
# and another socket() shim sits before or after ours in LD_PRELOAD. Every
# arrangement must configure the sockets, not crash and not recurse. Last,
# the shim's own start-up is interrupted by a socket() in the same thread
# and by a fork in another thread: no hang, and the child starts over.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

KH=$KAP_BIN/kh_hostile
CTOR=$KAP_BIN/libkh_ctor.so
WRAP=$KAP_BIN/libkh_wrap.so
REENTER=$KAP_BIN/libkh_reenter.so
PROBE=$KAP_BIN/tcpprobe
t_require_files "$KAP_LIB" "$KH" "$CTOR" "$WRAP" "$REENTER" "$PROBE"

cfg=(KAP_IDLE=41 KAP_INTERVAL=6 KAP_COUNT=3)
want="keepalive=1 idle=41 interval=6 count=3"
untouched="keepalive=0 idle=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)"

# Under check-sanitize KAP_PRELOAD is "libasan.so libkapreload.so" and the
# sanitizer runtime must stay first: other libraries go after that prefix.
san=
case $KAP_PRELOAD in *" "*) san="${KAP_PRELOAD% *} " ;; esac

# init_order PRELOAD: which of the two constructors ld.so calls first,
# "ctor kap" or "kap ctor", from LD_DEBUG's "calling init:" lines.
init_order() {
	LD_DEBUG=libs LD_PRELOAD="$1" "$KH" --help 2>&1 >/dev/null |
		sed -n 's/.*calling init: //p' |
		while read -r lib; do
			case $lib in
			*/libkh_ctor.so) printf 'ctor ' ;;
			*/libkapreload.so) printf 'kap ' ;;
			esac
		done
}

# glibc runs the constructors of later LD_PRELOAD entries first: putting the
# other library after the shim is what makes its socket() come first.
ctor_first="$KAP_PRELOAD $CTOR"
kap_first="${san}$CTOR $KAP_LIB"
t_eq ctor_order_later_entry_runs_first "ctor kap " "$(init_order "$ctor_first")"
t_eq ctor_order_earlier_entry_runs_last "kap ctor " "$(init_order "$kap_first")"

# check_ctor NAME PRELOAD
check_ctor() {
	local arrangement=$1 pre=$2 out rc
	out=$(env LD_PRELOAD="$pre" "${cfg[@]}" "$KH" sock 2>&1)
	rc=$?
	t_eq "ctor_${arrangement}_exit_status" 0 "$rc"
	t_contains "ctor_${arrangement}_socket_in_constructor_configured" "kh_ctor $want" "$out"
	t_contains "ctor_${arrangement}_main_socket_configured" "$want user_timeout=0" "$out"
	t_not_contains "ctor_${arrangement}_no_message" "libkapreload" "$out"
}
check_ctor ctor_first "$ctor_first"
check_ctor kap_first "$kap_first"
# Negative control: the constructor's socket without the shim.
out=$(env LD_PRELOAD="${san}$CTOR" "${cfg[@]}" "$KH" sock 2>&1)
t_contains ctor_noshim_untouched "kh_ctor $untouched" "$out"

# From outside: the constructor's connection, held for the process's
# lifetime, carries the keepalive timer (the main program is plain sleep).
"$PROBE" server 0 --accept 10 --hold -1 >"$T_TMP/srv" 2>&1 &
T_PIDS+=($!)
if ! port=$(t_listen_port "$T_TMP/srv"); then
	t_fail ctor_server "tcpprobe server did not start: $(cat "$T_TMP/srv")"
	exit 1
fi

# held_secs PRELOAD: seconds of the keepalive timer on the constructor's connection.
held_secs() {
	local pid secs=none
	env LD_PRELOAD="$1" KH_CTOR_PORT="$port" "${cfg[@]}" sleep 30 2>/dev/null &
	pid=$!
	t_ss_wait "dport = :$port"
	secs=$(ss_keepalive_secs "dport = :$port")
	t_stop "$pid"
	# Let the closed connection leave ESTABLISHED before the next one.
	t_ss_wait_gone "dport = :$port"
	echo "$secs"
}
secs=$(held_secs "$ctor_first")
if [ "$secs" != none ] && [ "$secs" -ge 35 ] && [ "$secs" -le 41 ]; then
	t_pass ctor_first_held_connection_timer_ss
else
	t_fail ctor_first_held_connection_timer_ss "expected a keepalive timer of 35..41 s, got [$secs]"
fi
t_eq ctor_noshim_held_connection_no_timer none "$(held_secs "${san}$CTOR")"

# Two socket shims. libkh_wrap aborts on re-entry and counts the calls it saw.
# check_wrap NAME PRELOAD
check_wrap() {
	local arrangement=$1 pre=$2 out rc
	out=$(env LD_PRELOAD="$pre" "${cfg[@]}" "$KH" sock 2>&1)
	rc=$?
	t_eq "wrap_${arrangement}_exit_status" 0 "$rc"
	t_contains "wrap_${arrangement}_socket_configured" "$want user_timeout=0" "$out"
	t_contains "wrap_${arrangement}_each_socket_once" "kh_wrap socket=1 " "$out"
	t_not_contains "wrap_${arrangement}_no_recursion" "recursion" "$out"
	out=$(env LD_PRELOAD="$pre" "${cfg[@]}" "$PROBE" client 127.0.0.1 "$port" 2>&1)
	rc=$?
	t_eq "wrap_${arrangement}_client_exit_status" 0 "$rc"
	t_contains "wrap_${arrangement}_client_configured" "$want user_timeout=0" "$out"
	t_contains "wrap_${arrangement}_client_connect_once" "connect=1 " "$out"
}
check_wrap wrap_first "${san}$WRAP $KAP_LIB"
check_wrap kap_then_wrap "$KAP_PRELOAD $WRAP"
out=$(env LD_PRELOAD="${san}$WRAP" "${cfg[@]}" "$KH" sock 2>&1)
t_contains wrap_alone_untouched "$untouched" "$out"

# Re-entry during start-up: libkh_reenter's open(), which the shim's
# start-up calls to read its file, calls socket() in the same thread. The
# shim must forward that call at once instead of waiting for its own
# start-up (a hang, caught by the timeout), and still configure later sockets.
printf 'idle = 41\n' >"$T_TMP/reenter.conf"
reenter=(KAP_CONFIG="$T_TMP/reenter.conf" KAP_INTERVAL=6 KAP_COUNT=3)
out=$(timeout 20 env LD_PRELOAD="$KAP_PRELOAD $REENTER" "${reenter[@]}" "$KH" sock 2>&1)
rc=$?
t_eq reenter_exit_status_no_hang 0 "$rc"
t_contains reenter_nested_socket_made "kh_reenter nested_socket_ok" "$out"
t_contains reenter_later_socket_configured "$want user_timeout=0" "$out"
# Another thread forks while start-up runs: the child must start over (its
# socket configured), not wait for a start-up that no thread of it runs.
out=$(timeout 20 env LD_PRELOAD="$KAP_PRELOAD $REENTER" KH_REENTER_FORK=1 "${reenter[@]}" \
	"$KH" sock 2>&1)
rc=$?
t_eq reenter_fork_exit_status 0 "$rc"
t_contains reenter_fork_child_starts_over "kh_reenter child_configured" "$out"
t_contains reenter_fork_parent_configured "$want user_timeout=0" "$out"
out=$(timeout 20 env LD_PRELOAD="${san}$REENTER" KH_REENTER_FORK=1 "${reenter[@]}" "$KH" sock 2>&1)
t_contains reenter_control_open_not_called_without_shim "kh_reenter none" "$out"

t_done
