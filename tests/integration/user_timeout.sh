#!/usr/bin/env bash
# Automatic user timeout, read from outside (pidfd_getfd): KAP_USER_TIMEOUT=auto
# gives (idle + interval x count) x 1000 ms of the socket's effective values;
# unset ones come from the sysctls of the process's network namespace (a
# fresh namespace with its own tcp_keepalive_* values, root only); the result
# is clamped to 2147483647; a rule's auto uses the rule's values; a number is
# applied as is, 0 sets nothing; auto with KAP_ENABLE=off sets nothing.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

kt_bg "$T_TMP/srv" "${KT_NOSHIM[@]}" "$KT_PROBE" server 0 --accept 1000 --hold -1
srv_pid=$KT_PID
PA=$(kt_port "$T_TMP/srv") || {
	t_fail uto_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}
kt_bg "$T_TMP/srvb" "${KT_NOSHIM[@]}" "$KT_PROBE" server 0 --accept 1000 --hold -1
srvb_pid=$KT_PID
PB=$(kt_port "$T_TMP/srvb")

# peek_conn PID PORT: the values of PID's connection to PORT, from outside.
peek_conn() {
	"$KT_PROBE" peek "$1" "$2" | grep -v ' rport=0 ' | sed 's/^fd=[0-9]* lport=[0-9]* rport=[0-9]* //'
}

# held NAME WANT PORT PREFIX...: a tcpprobe client started with the command
# PREFIX (env ..., maybe ip netns exec) connects to 127.0.0.1:PORT and holds;
# its socket, read from outside, must be WANT; stderr must be empty.
# HELD_OPTS: extra client options.
HELD_OPTS=()
held() {
	local name=$1 want=$2 port=$3
	shift 3
	kt_bg "$T_TMP/$name" "$@" "$KT_PROBE" client 127.0.0.1 "$port" --hold -1 "${HELD_OPTS[@]}"
	if ! kt_wait_line "$T_TMP/$name" 'keepalive=' >/dev/null; then
		t_fail "$name" "no line from the client: $(cat "$T_TMP/$name.err")"
		kt_stop "$KT_PID"
		return
	fi
	t_eq "$name" "$want" "$(peek_conn "$KT_PID" "$port")"
	t_eq "${name}_silent" "" "$(cat "$T_TMP/$name.err")"
	kt_stop "$KT_PID"
}
# line IDLE INTERVAL COUNT UTO [KEEPALIVE]: a tcpprobe values line.
line() { echo "keepalive=${5:-1} idle=$1 interval=$2 count=$3 user_timeout=$4"; }

# ---- auto from the configured values ------------------------------------------
held uto_auto_env "$(line 30 5 4 50000)" "$PA" "${KT_SHIM[@]}" KAP_IDLE=30 KAP_INTERVAL=5 KAP_COUNT=4 \
	KAP_USER_TIMEOUT=auto
held uto_auto_any_case "$(line 30 5 4 50000)" "$PA" "${KT_SHIM[@]}" KAP_IDLE=30 KAP_INTERVAL=5 \
	KAP_COUNT=4 KAP_USER_TIMEOUT=AuTo
printf 'idle = 11\ninterval = 3\ncount = 2\nuser_timeout = auto\n' >"$T_TMP/file.conf"
held uto_auto_file "$(line 11 3 2 17000)" "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/file.conf"
# The environment's idle over the file's, in the sum too.
held uto_auto_mixed_sources "$(line 20 3 2 26000)" "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/file.conf" \
	KAP_IDLE=20
# Computed once from the configuration: the program's own later values
# (100, 20, 3 after connect) change keepalive but not the user timeout.
HELD_OPTS=(--set '100,20,3' --set-after)
held uto_auto_not_recomputed "$(line 100 20 3 50000)" "$PA" "${KT_SHIM[@]}" KAP_IDLE=30 KAP_INTERVAL=5 \
	KAP_COUNT=4 KAP_USER_TIMEOUT=auto
HELD_OPTS=()
# Negative controls: no shim; the shim without auto.
held uto_auto_noshim "$(line "$KT_DEF_IDLE" "$KT_DEF_INTVL" "$KT_DEF_CNT" 0 0)" "$PA" "${KT_NOSHIM[@]}" \
	KAP_IDLE=30 KAP_INTERVAL=5 KAP_COUNT=4 KAP_USER_TIMEOUT=auto
held uto_unset_is_zero "$(line 30 5 4 0)" "$PA" "${KT_SHIM[@]}" KAP_IDLE=30 KAP_INTERVAL=5 KAP_COUNT=4

# With nothing set but auto, the kernel's values of this namespace count.
held uto_auto_sysctl_defaults \
	"$(line "$KT_DEF_IDLE" "$KT_DEF_INTVL" "$KT_DEF_CNT" $(((KT_DEF_IDLE + KT_DEF_INTVL * KT_DEF_CNT) * 1000)))" \
	"$PA" "${KT_SHIM[@]}" KAP_USER_TIMEOUT=auto

# ---- clamping to INT_MAX ----------------------------------------------------------
# 32767 + 32767 x 127 = 4194176 s: 4194176000 ms does not fit in an int.
held uto_auto_clamped "$(line 32767 32767 127 2147483647)" "$PA" "${KT_SHIM[@]}" KAP_IDLE=32767 \
	KAP_INTERVAL=32767 KAP_COUNT=127 KAP_USER_TIMEOUT=auto
# Just below the limit: 32767 x 65 = 2129855 s = 2129855000 ms, exact.
held uto_auto_large_exact "$(line 32767 32767 64 2129855000)" "$PA" "${KT_SHIM[@]}" KAP_IDLE=32767 \
	KAP_INTERVAL=32767 KAP_COUNT=64 KAP_USER_TIMEOUT=auto
held uto_numeric_max "$(line 30 5 4 2147483647)" "$PA" "${KT_SHIM[@]}" KAP_IDLE=30 KAP_INTERVAL=5 \
	KAP_COUNT=4 KAP_USER_TIMEOUT=2147483647

# ---- rules ------------------------------------------------------------------------
# Globals 40/8/3 without a user timeout; a rule on PA with its own values.
printf '%s\n' 'idle = 40' 'interval = 8' 'count = 3' \
	'[rule fast]' "port = $PA" 'idle = 10' 'interval = 2' 'count = 5' 'user_timeout = auto' \
	>"$T_TMP/rule.conf"
held uto_rule_auto_rule_values "$(line 10 2 5 20000)" "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/rule.conf"
held uto_rule_auto_other_port_none "$(line 40 8 3 0)" "$PB" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/rule.conf"
# A rule that sets only idle and auto: interval and count are the globals'.
printf '%s\n' 'idle = 40' 'interval = 8' 'count = 3' \
	'[rule half]' "port = $PA" 'idle = 10' 'user_timeout = auto' >"$T_TMP/half.conf"
held uto_rule_auto_partial "$(line 10 8 3 34000)" "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/half.conf"
# A global auto is computed for a rule with the rule's idle.
printf '%s\n' 'idle = 40' 'interval = 8' 'count = 3' 'user_timeout = auto' \
	'[rule idle]' "port = $PA" 'idle = 10' >"$T_TMP/gauto.conf"
held uto_global_auto_rule_idle "$(line 10 8 3 34000)" "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/gauto.conf"
held uto_global_auto_other_port "$(line 40 8 3 64000)" "$PB" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/gauto.conf"
# The rule's values, not the environment's, enter its sum.
held uto_rule_auto_beats_env "$(line 10 2 5 20000)" "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/rule.conf" \
	KAP_IDLE=99 KAP_USER_TIMEOUT=1234
held uto_rule_env_elsewhere "$(line 99 8 3 1234)" "$PB" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/rule.conf" \
	KAP_IDLE=99 KAP_USER_TIMEOUT=1234

# ---- numbers: as is; 0 sets nothing -----------------------------------------------
held uto_numeric_as_is "$(line 30 5 4 12345)" "$PA" "${KT_SHIM[@]}" KAP_IDLE=30 KAP_INTERVAL=5 \
	KAP_COUNT=4 KAP_USER_TIMEOUT=12345
printf 'user_timeout = 9000\n' >"$T_TMP/uto.conf"
held uto_file_numeric "$(line "$KT_DEF_IDLE" "$KT_DEF_INTVL" "$KT_DEF_CNT" 9000)" "$PA" "${KT_SHIM[@]}" \
	KAP_CONFIG="$T_TMP/uto.conf"
# 0 is a valid value: it beats the file's 9000 and leaves the kernel default.
held uto_zero_beats_file "$(line "$KT_DEF_IDLE" "$KT_DEF_INTVL" "$KT_DEF_CNT" 0)" "$PA" "${KT_SHIM[@]}" \
	KAP_CONFIG="$T_TMP/uto.conf" KAP_USER_TIMEOUT=0

# calls OUT PREFIX...: the shim's setsockopt calls of one client run (strace).
calls() {
	local out=$1
	shift
	strace -f -qq -e trace=setsockopt -o "$out" "$@" "$KT_PROBE" client 127.0.0.1 "$PA" >/dev/null 2>&1
	grep -c 'setsockopt(' "$out"
}
if have strace; then
	# tcpprobe client makes no setsockopt of its own: every call is the shim's.
	t_eq uto_zero_only_idle_and_keepalive 2 "$(calls "$T_TMP/st0" "${KT_SHIM[@]}" KAP_IDLE=30 \
		KAP_USER_TIMEOUT=0)"
	t_eq uto_zero_no_call 0 "$(grep -c TCP_USER_TIMEOUT "$T_TMP/st0")"
	# Negative control: a number is a call.
	calls "$T_TMP/st1" "${KT_SHIM[@]}" KAP_IDLE=30 KAP_USER_TIMEOUT=12345 >/dev/null
	t_eq uto_number_one_call 1 "$(grep -c 'TCP_USER_TIMEOUT, \[12345\]' "$T_TMP/st1")"
	# auto with KAP_ENABLE=off: not a single setsockopt.
	t_eq uto_auto_enable_off_no_call 0 "$(calls "$T_TMP/st2" "${KT_SHIM[@]}" KAP_ENABLE=off KAP_IDLE=30 \
		KAP_INTERVAL=5 KAP_COUNT=4 KAP_USER_TIMEOUT=auto)"
else
	t_skip uto_strace "strace not installed"
fi

# ---- auto with KAP_ENABLE=off sets nothing -------------------------------------------
held uto_auto_enable_off "$KT_UNTOUCHED" "$PA" "${KT_SHIM[@]}" KAP_ENABLE=off KAP_IDLE=30 KAP_INTERVAL=5 \
	KAP_COUNT=4 KAP_USER_TIMEOUT=auto
printf 'enable = off\nuser_timeout = auto\n' >"$T_TMP/off.conf"
held uto_auto_file_enable_off "$KT_UNTOUCHED" "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/off.conf"
# Negative control: the same with KAP_ENABLE=on.
held uto_auto_enable_on "$(line 30 5 4 50000)" "$PA" "${KT_SHIM[@]}" KAP_ENABLE=on KAP_IDLE=30 \
	KAP_INTERVAL=5 KAP_COUNT=4 KAP_USER_TIMEOUT=auto

kt_stop "$srv_pid"
kt_stop "$srvb_pid"

# ---- the network namespace's sysctls ---------------------------------------------------
if ! is_root; then
	t_skip uto_netns "needs root for ip netns"
elif ! have ip; then
	t_skip uto_netns "ip (iproute2) not installed"
else
	NS=kt-uto-$$-$RANDOM
	ns_cleanup() {
		local p
		for p in "${T_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
		wait 2>/dev/null
		ip netns del "$NS" 2>/dev/null
		t_cleanup
	}
	trap ns_cleanup EXIT
	if ! ip netns add "$NS" || ! ip -n "$NS" link set lo up; then
		t_fail uto_netns_setup "cannot create network namespace $NS"
	else
		NX=(ip netns exec "$NS")
		"${NX[@]}" sysctl -q -w net.ipv4.tcp_keepalive_time=100 net.ipv4.tcp_keepalive_intvl=7 \
			net.ipv4.tcp_keepalive_probes=3
		t_eq uto_netns_sysctls_set "100 7 3" "$("${NX[@]}" cat /proc/sys/net/ipv4/tcp_keepalive_time \
			/proc/sys/net/ipv4/tcp_keepalive_intvl /proc/sys/net/ipv4/tcp_keepalive_probes | paste -sd ' ')"
		kt_bg "$T_TMP/nsrv" "${NX[@]}" "${KT_NOSHIM[@]}" "$KT_PROBE" server 0 --accept 100 --hold -1
		ns_srv=$KT_PID
		if ! PN=$(kt_port "$T_TMP/nsrv"); then
			t_fail uto_netns_server "no listening line: $(cat "$T_TMP/nsrv.err")"
		else
			held uto_netns_auto_sysctls "$(line 100 7 3 121000)" "$PN" "${NX[@]}" "${KT_SHIM[@]}" \
				KAP_USER_TIMEOUT=auto
			# Mixed: idle from the environment, interval and count from the namespace.
			held uto_netns_auto_mixed "$(line 20 7 3 41000)" "$PN" "${NX[@]}" "${KT_SHIM[@]}" \
				KAP_IDLE=20 KAP_USER_TIMEOUT=auto
			# A rule's auto falls back to the namespace too.
			printf '%s\n' '[rule r]' "port = $PN" 'interval = 2' 'user_timeout = auto' >"$T_TMP/ns.conf"
			held uto_netns_rule_auto "$(line 100 2 3 106000)" "$PN" "${NX[@]}" "${KT_SHIM[@]}" \
				KAP_CONFIG="$T_TMP/ns.conf"
			# Negative control: without the shim nothing is set there either.
			held uto_netns_noshim "$(line 100 7 3 0 0)" "$PN" "${NX[@]}" "${KT_NOSHIM[@]}" \
				KAP_USER_TIMEOUT=auto
		fi
		kt_stop "$ns_srv"
		# The host namespace keeps its own values: auto there is not 121000.
		kt_differs uto_netns_host_differs 121000 $(((KT_DEF_IDLE + KT_DEF_INTVL * KT_DEF_CNT) * 1000))
	fi
	ip netns del "$NS" 2>/dev/null
	t_eq uto_netns_deleted "" "$(ip netns list | grep -w "$NS")"
fi

t_done
