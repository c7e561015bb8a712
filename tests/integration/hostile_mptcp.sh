#!/usr/bin/env bash
# MPTCP (IPPROTO_MPTCP = 262): sockets created, connected and accepted under
# the shim get keepalive and the configured values; TCP_USER_TIMEOUT, which
# MPTCP lacks, is never attempted; and out-of-range values are refused by the
# shim itself, because an unconnected MPTCP socket accepts them silently.
# Skips with the reason when the kernel has MPTCP off.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

KH=$KAP_BIN/kh_hostile
t_require_files "$KAP_LIB" "$KH"
if [ ! -r /proc/sys/net/mptcp/enabled ]; then
	t_skip mptcp "kernel without MPTCP (no /proc/sys/net/mptcp/enabled)"
	exit 0
fi
if [ "$(cat /proc/sys/net/mptcp/enabled)" != 1 ]; then
	t_skip mptcp "MPTCP disabled: net.mptcp.enabled = $(cat /proc/sys/net/mptcp/enabled)"
	exit 0
fi
# What this kernel lets an MPTCP socket do: "socket", "keepidle" (full
# TCP_KEEP* support, about 6.10 on) and "silent" (40000 accepted and kept).
caps=$(env -u LD_PRELOAD python3 - <<'EOF'
import socket
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
except OSError as e:
    print("nosocket", e.strerror)
    raise SystemExit
print("socket")
try:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 40000)
    if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 40000:
        print("silent")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 30)
    if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30:
        print("keepidle")
except OSError:
    pass
EOF
)
case $caps in
*nosocket*)
	t_skip mptcp "socket(AF_INET, SOCK_STREAM, 262) fails: ${caps#nosocket }"
	exit 0
	;;
esac
full=0
case $caps in *keepidle*) full=1 ;; esac

def_idle=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)
def_intvl=$(cat /proc/sys/net/ipv4/tcp_keepalive_intvl)
def_cnt=$(cat /proc/sys/net/ipv4/tcp_keepalive_probes)
cfg=(KAP_IDLE=33 KAP_INTERVAL=5 KAP_COUNT=4 KAP_USER_TIMEOUT=9000)
shim=(env LD_PRELOAD="$KAP_PRELOAD")
if [ "$full" = 1 ]; then
	want="keepalive=1 idle=33 interval=5 count=4"
else
	want="keepalive=1 "
	t_skip mptcp_values "this kernel has SO_KEEPALIVE but not TCP_KEEP* on MPTCP (before 6.10): only keepalive is checked"
fi

# Unconnected socket.
out=$("${shim[@]}" "${cfg[@]}" "$KH" sock --proto 262 2>&1)
t_contains mptcp_socket_configured "$want" "$out"
t_not_contains mptcp_socket_no_message "libkapreload" "$out"
out=$(env -u LD_PRELOAD "${cfg[@]}" "$KH" sock --proto 262 2>&1)
t_contains mptcp_noshim_untouched "keepalive=0 idle=$def_idle" "$out"

if have strace; then
	# TCP_USER_TIMEOUT is skipped on MPTCP; the TCP control shows the trace sees it.
	tr=$(strace -f -qq -e trace=setsockopt "${shim[@]}" "${cfg[@]}" "$KH" sock --proto 262 2>&1 >/dev/null)
	t_not_contains mptcp_no_user_timeout_attempt "TCP_USER_TIMEOUT" "$tr"
	t_contains mptcp_trace_sees_keepalive "SO_KEEPALIVE, [1]" "$tr"
	tr=$(strace -f -qq -e trace=setsockopt "${shim[@]}" "${cfg[@]}" "$KH" sock 2>&1 >/dev/null)
	t_contains mptcp_control_tcp_gets_user_timeout "TCP_USER_TIMEOUT, [9000]" "$tr"
else
	t_skip mptcp_no_user_timeout_attempt "strace not installed"
fi

# Out of range: refused with a message, never passed to the kernel.
bad=(KAP_IDLE=40000 KAP_INTERVAL=32768 KAP_COUNT=500)
out=$("${shim[@]}" "${bad[@]}" "$KH" sock --proto 262 2>&1)
t_contains mptcp_range_idle_message "libkapreload: KAP_IDLE=40000: out of range, allowed 1..32767" "$out"
t_contains mptcp_range_interval_message "libkapreload: KAP_INTERVAL=32768: out of range, allowed 1..32767" "$out"
t_contains mptcp_range_count_message "libkapreload: KAP_COUNT=500: out of range, allowed 1..127" "$out"
if [ "$full" = 1 ]; then
	t_contains mptcp_range_values_not_applied \
		"keepalive=1 idle=$def_idle interval=$def_intvl count=$def_cnt" "$out"
fi
if have strace; then
	tr=$(strace -f -qq -e trace=setsockopt "${shim[@]}" "${bad[@]}" "$KH" sock --proto 262 2>&1 >/dev/null)
	t_not_contains mptcp_range_never_passed_idle "[40000]" "$tr"
	t_not_contains mptcp_range_never_passed_interval "[32768]" "$tr"
	t_not_contains mptcp_range_never_passed_count "[500]" "$tr"
fi
# The same from the configuration file (file:line in the message).
printf 'idle = 40000\ncount = 4\n' >"$T_TMP/kap.conf"
out=$("${shim[@]}" KAP_CONFIG="$T_TMP/kap.conf" "$KH" sock --proto 262 2>&1)
t_contains mptcp_range_file_message "$T_TMP/kap.conf:1: idle = 40000: out of range" "$out"
if [ "$full" = 1 ]; then
	t_contains mptcp_range_file_rest_applies "keepalive=1 idle=$def_idle interval=$def_intvl count=4" "$out"
fi
case $caps in
*silent*) t_pass mptcp_control_kernel_accepts_40000_silently ;;
*) t_skip mptcp_control_kernel_accepts_40000_silently "this kernel refuses 40000 itself" ;;
esac

# Connected (client under the shim) and accepted (server under the shim),
# MPTCP at both ends; the keepalive timer is seen from outside on the subflow.
server() { # PRINT_ACCEPTED: listen on MPTCP, print the port, accept one, wait for EOF
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
if sys.argv[1] == "1":
    g = lambda l, n: c.getsockopt(l, n)
    print("accepted keepalive=%d idle=%d interval=%d count=%d" % (
        g(socket.SOL_SOCKET, socket.SO_KEEPALIVE), g(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        g(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL), g(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)),
        flush=True)
while c.recv(4096):
    pass
' "$1"
}
wait_port() { # FILE: the first line of FILE once it is there
	local p=
	for _ in $(seq 50); do
		p=$(head -n 1 "$1" 2>/dev/null)
		[ -n "$p" ] && break
		sleep 0.1
	done
	echo "$p"
}

# held_timer PRELOAD-OR-EMPTY: ss keepalive seconds of a held MPTCP client.
held_timer() {
	local port pid secs
	env -u LD_PRELOAD bash -c "$(declare -f server); server 0" >"$T_TMP/srv" 2>&1 &
	T_PIDS+=($!)
	port=$(wait_port "$T_TMP/srv")
	if [ -n "$1" ]; then
		env LD_PRELOAD="$1" "${cfg[@]}" "$KH" sock --proto 262 --connect 127.0.0.1 "$port" --hold >/dev/null 2>&1 &
	else
		env -u LD_PRELOAD "$KH" sock --proto 262 --connect 127.0.0.1 "$port" --hold >/dev/null 2>&1 &
	fi
	pid=$!
	t_ss_wait "dport = :$port"
	secs=$(ss_keepalive_secs "dport = :$port")
	t_stop "$pid"
	echo "$secs"
}
if [ "$full" = 1 ]; then
	secs=$(held_timer "$KAP_PRELOAD")
	if [ "$secs" != none ] && [ "$secs" -ge 28 ] && [ "$secs" -le 33 ]; then
		t_pass mptcp_connected_subflow_timer_ss
	else
		t_fail mptcp_connected_subflow_timer_ss "expected a keepalive timer of 28..33 s, got [$secs]"
	fi
	t_eq mptcp_connected_noshim_no_timer none "$(held_timer "")"
fi

# Accepted: the server runs under the shim, the client does not.
env LD_PRELOAD="$KAP_PRELOAD" "${cfg[@]}" bash -c "$(declare -f server); server 1" >"$T_TMP/asrv" 2>&1 &
T_PIDS+=($!)
port=$(wait_port "$T_TMP/asrv")
env -u LD_PRELOAD "$KH" sock --proto 262 --connect 127.0.0.1 "$port" >/dev/null 2>&1
for _ in $(seq 50); do
	grep -q '^accepted' "$T_TMP/asrv" && break
	sleep 0.1
done
t_contains mptcp_accepted_configured "accepted $want" "$(cat "$T_TMP/asrv")"

t_done
