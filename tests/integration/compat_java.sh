#!/usr/bin/env bash
# OpenJDK: java.net.Socket/ServerSocket and NIO SocketChannel/ServerSocketChannel
# (AF_INET6 dual-stack sockets even for 127.0.0.1), connected and accepted
# ends, seen from outside (ss timer, pidfd_getfd); and a Socket on which the
# program calls setKeepAlive(false) before connecting: with override off the
# program wins, while its accepted peer end is configured. Two JVMs at once:
# one under the shim, one without it (the negative control).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require
cp_need java java || {
	t_done
	exit
}

cfg=(KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=4)
want=$(cp_ka 33 7 4)

# Both JVMs start together: start-up (1-2 s) is the slow part of this test.
cp_bg "$T_TMP/shim" "${CP_SHIM[@]}" "${cfg[@]}" java "$CP_DIR/KapCompat.java" 60
shim_pid=$CP_PID
cp_bg "$T_TMP/noshim" "${CP_NOSHIM[@]}" "${cfg[@]}" java "$CP_DIR/KapCompat.java" 60
noshim_pid=$CP_PID

for mode in shim noshim; do
	if ! cp_wait_line "$T_TMP/$mode" '^ready$' 400 >/dev/null; then
		t_fail "java_${mode}_started" "no ready line: $(cat "$T_TMP/$mode.err")"
		continue
	fi
	pid=${mode}_pid
	pid=${!pid}
	declare -A ports=([io]=$(sed -n 's/^io //p' "$T_TMP/$mode")
		[nio]=$(sed -n 's/^nio //p' "$T_TMP/$mode")
		[off]=$(sed -n 's/^off //p' "$T_TMP/$mode"))
	# Java's sockets are AF_INET6 even towards 127.0.0.1: ss shows them as
	# [::ffff:127.0.0.1]; the family must not matter to the shim.
	t_contains "java_${mode}_dual_stack" "[::ffff:127.0.0.1]:${ports[io]}" \
		"$(ss -Htn state established sport = :"${ports[io]}")"
	for kind in io nio off; do
		port=${ports[$kind]}
		if [ "$mode/$kind" = shim/off ]; then
			cp_expect java_setkeepalive_false_app_wins "$pid" none none "keepalive=0 *" \
				dport = :"$port"
			cp_expect java_off_accepted "$pid" 25 33 "$want" sport = :"$port"
		elif [ "$mode" = shim ]; then
			cp_expect "java_${kind}_connected" "$pid" 25 33 "$want" dport = :"$port"
			cp_expect "java_${kind}_accepted" "$pid" 25 33 "$want" sport = :"$port"
		else
			cp_expect "java_${kind}_connected_noshim" "$pid" none none "$CP_UNTOUCHED" \
				dport = :"$port"
			cp_expect "java_${kind}_accepted_noshim" "$pid" none none "$CP_UNTOUCHED" \
				sport = :"$port"
		fi
	done
done
cp_quiet java_shim_prints_nothing "$T_TMP/shim.err"
cp_stop "$shim_pid" "$noshim_pid"
t_done
