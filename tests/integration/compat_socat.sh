#!/usr/bin/env bash
# socat on both sides: a forking TCP-LISTEN server (accepts in the parent,
# serves in a forked child) and a TCP client, each under the shim with its
# own values (server idle 33, client idle 44), so every end is known to be
# configured by its own process. A second pair without the shim is the
# negative control. Both pairs idle: each side only reads.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=compat/compat_lib.sh
. "$TESTS_DIR/integration/compat/compat_lib.sh"
cp_require
cp_need socat socat || {
	t_done
	exit
}

# start_pair MODE PREFIX: a socat server (env srv_env) and client (env
# cli_env) under the command prefix named PREFIX; sets port_MODE, srv_MODE,
# cli_MODE.
start_pair() {
	local mode=$1 p
	local -n prefix=$2
	p=$(free_port)
	cp_bg "$T_TMP/srv_$mode" "${prefix[@]}" "${srv_env[@]}" \
		socat -u TCP-LISTEN:"$p",bind=127.0.0.1,reuseaddr,fork OPEN:/dev/null
	printf -v "srv_$mode" %s "$CP_PID"
	if ! wait_listen "$p"; then
		t_fail "socat_${mode}_listening" "$(cat "$T_TMP/srv_$mode.err")"
		return 1
	fi
	printf -v "port_$mode" %s "$p"
	cp_bg "$T_TMP/cli_$mode" "${prefix[@]}" "${cli_env[@]}" socat -u TCP:127.0.0.1:"$p" STDOUT
	printf -v "cli_$mode" %s "$CP_PID"
}

srv_env=(KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=4)
cli_env=(KAP_IDLE=44 KAP_INTERVAL=8 KAP_COUNT=5)
port_shim='' port_noshim='' srv_shim='' srv_noshim='' cli_shim='' cli_noshim='' server_child=''
start_pair shim CP_SHIM
start_pair noshim CP_NOSHIM

if [ -n "$port_shim" ]; then
	cp_expect socat_connected "$cli_shim" 36 44 "$(cp_ka 44 8 5)" dport = :"$port_shim"
	# The accepted end lives in the forked child, not in the listening parent.
	row=$(cp_row - sport = :"$port_shim")
	owner=$(cp_owner "$row")
	server_child=${owner%%:*}
	t_eq socat_accepted_in_forked_child "$srv_shim" "$(ps -o ppid= -p "$server_child" | tr -d ' ')"
	cp_expect socat_accepted "$server_child" 25 33 "$(cp_ka 33 7 4)" sport = :"$port_shim"
	cp_quiet socat_server_prints_nothing "$T_TMP/srv_shim.err"
	cp_quiet socat_client_prints_nothing "$T_TMP/cli_shim.err"
fi
if [ -n "$port_noshim" ]; then
	cp_expect socat_connected_noshim "$cli_noshim" none none "$CP_UNTOUCHED" dport = :"$port_noshim"
	cp_expect socat_accepted_noshim - none none "$CP_UNTOUCHED" sport = :"$port_noshim"
fi
# Clients first: the forked server child then sees EOF and is reaped by its
# parent before the parent goes.
cp_stop "$cli_shim" "$cli_noshim"
for ((i = 0; i < 40; i++)); do
	if [ -z "$server_child" ] || ! kill -0 "$server_child" 2>/dev/null; then break; fi
	sleep 0.05
done
cp_stop "$srv_shim" "$srv_noshim"
t_done
